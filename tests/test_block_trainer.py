"""Block-synchronous mini-batch training (csrc/block_trainer.cc, the spec in issue 27): the
gradient of one block against central finite differences of the engine's own block loss, an
epoch lowering the loss, bit-identical runs, and bad options."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlm_fast import _core
from rnnlm_fast.errors import ConfigError

CLASS_BEGIN = [0, 1, 5, 9, 14]  # </s> alone, then three classes
VOCAB = CLASS_BEGIN[-1]


def tiny_model(cell: str, direct: bool, hidden: int = 6, seed: int = 2, embedding: int = 0) -> _core.Model:
    m = _core.Model(VOCAB, hidden, CLASS_BEGIN, cell, 64 if direct else 0, 3 if direct else 0, "splitmix",
                    embedding)
    m.init_random(seed)
    rng = np.random.default_rng(seed)
    for w in m.arrays().values():  # biases and direct weights non-zero too, so every path is exercised
        w += rng.normal(0, 0.4, size=w.shape).astype(np.float32)
    return m


def corpus(n: int, seed: int = 0, oov: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sents = [list(rng.integers(1, VOCAB, size=int(rng.integers(1, 7)))) + [0] for _ in range(n)]
    if oov:
        sents[1][0] = -1  # an unknown word: no input there, not scored
    ids = np.array([w for s in sents for w in s], dtype=np.int32)
    offsets = np.cumsum([0] + [len(s) for s in sents]).astype(np.int64)
    return ids, offsets


def options(**kw) -> dict:
    return {"lr": 0.5, "l2": 0.0, "clip_norm": 5.0, "dropout": 0.0, "input_dropout": 0.0, "batch": 3,
            "steps": 5, "independent": False, "seed": 1, "threads": 1, **kw}


# Central differences of a float32 loss: each difference taken at two step sizes, which must
# agree (the difference is in its linear range and above the rounding noise) before it judges.
EPS = 4e-3
FD_ATOL = 1e-3
FD_RTOL = 2e-2


@pytest.mark.parametrize("independent", [False, True])
@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize("cell", ["sigmoid", "gru", "lstm"])
def test_block_gradient_matches_finite_differences(cell, direct, independent):
    m = tiny_model(cell, direct)
    ids, offsets = corpus(12)
    o = options(independent=independent)
    grad, loss = _core.block_gradient(m, ids, offsets, o)
    assert np.isfinite(loss) and loss > 0
    weights = m.arrays()
    rng = np.random.default_rng(0)

    def loss_at(name, idx, value):
        w = weights[name]
        old = w[idx]
        w[idx] = value
        out = _core.block_gradient(m, ids, offsets, o)[1]
        w[idx] = old
        return out

    for name, g in grad.arrays().items():
        # The largest coordinates and a few random ones among the non-zero: a zero gradient
        # where there should be one (or the reverse) fails.
        flat = np.abs(g).ravel()
        top = list(np.argsort(flat)[::-1][:3])
        nonzero = np.flatnonzero(flat > 5 * FD_ATOL)
        top += list(rng.choice(nonzero, size=min(2, len(nonzero)), replace=False))
        assert flat[top[0]] > 5 * FD_ATOL, (name, flat[top[0]])
        for f in top:
            idx = np.unravel_index(int(f), g.shape)
            w0 = float(weights[name][idx])
            fd1 = (loss_at(name, idx, w0 + EPS) - loss_at(name, idx, w0 - EPS)) / (2 * EPS)
            fd2 = (loss_at(name, idx, w0 + EPS / 2) - loss_at(name, idx, w0 - EPS / 2)) / EPS
            assert abs(fd1 - fd2) < FD_ATOL + FD_RTOL * abs(fd1), (name, idx, fd1, fd2)
            assert abs(fd1 - g[idx]) < FD_ATOL + FD_RTOL * abs(fd1), (name, idx, fd1, float(g[idx]))
    if independent:
        assert grad.arrays()["recurrent"].any()


def test_block_gradient_ignores_dropout_and_clip():
    m = tiny_model("gru", True)
    ids, offsets = corpus(12)
    g1, l1 = _core.block_gradient(m, ids, offsets, options())
    g2, l2 = _core.block_gradient(m, ids, offsets, options(dropout=0.5, clip_norm=1e-3))
    assert l1 == l2
    for name, a in g1.arrays().items():
        np.testing.assert_array_equal(a, g2.arrays()[name], err_msg=name)


def test_block_loss_is_the_mean_over_streams_of_the_block_logprob():
    """One stream, one block covering the whole corpus: the loss is -sum ln P of the scorer."""
    m = tiny_model("lstm", True)
    ids, offsets = corpus(4, oov=False)
    n = int(offsets[-1])
    _, loss = _core.block_gradient(m, ids, offsets, options(batch=1, steps=n))
    lp = _core.score_positions(m, ids, offsets, False, 1)
    assert loss == pytest.approx(-lp.sum(), rel=1e-5)
    # B streams: the same positions, each stream from the reset state; the loss is divided by B.
    _, loss2 = _core.block_gradient(m, ids, offsets, options(batch=2, steps=n))
    assert 0 < loss2 < loss


def _epoch_logprob(m, ids, offsets):
    return float(_core.score_positions(m, ids, offsets, False, 1).sum())


@pytest.mark.parametrize("cell", ["sigmoid", "gru", "lstm"])
def test_epochs_lower_the_loss(cell):
    m = tiny_model(cell, cell == "gru", hidden=12)
    ids, offsets = corpus(200, seed=3)
    before = _epoch_logprob(m, ids, offsets)
    for _ in range(3):
        st = _core.train_block_epoch(m, ids, offsets, options(batch=8, steps=6, lr=0.5, dropout=0.1))
        assert not st["diverged"] and not st["interrupted"]
        assert st["processed"] == offsets[-1]
        assert st["words"] == int((ids >= 0).sum())
        assert st["blocks"] > 0 and st["gemm_seconds"] <= st["seconds"]
    after = _epoch_logprob(m, ids, offsets)
    assert after > before + 0.05 * abs(before), (before, after)


def test_one_thread_is_bit_reproducible():
    ids, offsets = corpus(150, seed=4)
    runs = []
    for _ in range(2):
        m = tiny_model("gru", True, hidden=10)
        o = _core.BlockTrainOptions(lr=0.3, l2=1e-4, clip_norm=1.0, dropout=0.3, input_dropout=0.2, batch=5,
                                    steps=4, independent=True, seed=9, threads=1)
        st = _core.train_block_epoch(m, ids, offsets, o)
        runs.append((st["logprob"], {k: v.copy() for k, v in m.arrays().items()}))
    assert runs[0][0] == runs[1][0]
    for name, a in runs[0][1].items():
        np.testing.assert_array_equal(a, runs[1][1][name], err_msg=name)


def test_threads_agree_with_one_thread():
    ids, offsets = corpus(150, seed=4)
    out = []
    for threads in (1, 2):
        m = tiny_model("lstm", False, hidden=10)
        st = _core.train_block_epoch(m, ids, offsets, options(batch=6, steps=4, threads=threads, dropout=0.2))
        out.append((st["logprob"], m.arrays()["recurrent"].copy()))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-5)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-4, atol=1e-6)


def _train(cell, direct, threads, **kw):
    ids, offsets = corpus(150, seed=4)
    m = tiny_model(cell, direct, hidden=10)
    st = _core.train_block_epoch(m, ids, offsets, options(threads=threads, **kw))
    return st, {k: v.copy() for k, v in m.arrays().items()}


@pytest.mark.parametrize("cell,direct,batch,threads", [
    ("gru", True, 7, 3),     # B not divisible by the threads
    ("lstm", False, 2, 4),   # fewer streams than threads: some parts get no stream
    ("sigmoid", True, 1, 2),
])
def test_uneven_thread_splits_agree_with_one_thread(cell, direct, batch, threads):
    kw = dict(batch=batch, steps=4, dropout=0.2, l2=1e-4)
    one, w1 = _train(cell, direct, 1, **kw)
    many, wn = _train(cell, direct, threads, **kw)
    for key in ("processed", "words", "blocks"):
        assert many[key] == one[key], key
    assert many["logprob"] == pytest.approx(one["logprob"], rel=1e-5)
    for name, a in w1.items():
        np.testing.assert_allclose(wn[name], a, rtol=1e-4, atol=1e-5, err_msg=name)


def test_input_dropout_drops_whole_input_words():
    """A dropped input feeds the cell nothing, so its embedding row gets no gradient: with nearly every
    input dropped (and no L2) the embedding barely moves, while the rest of the model trains; at a
    moderate rate the epoch differs from one without it, the same for any thread count."""
    ids, offsets = corpus(150, seed=4)
    m = tiny_model("lstm", True, hidden=10)
    embed0 = m.arrays()["embed"].copy()
    recurrent0 = m.arrays()["recurrent"].copy()
    _core.train_block_epoch(m, ids, offsets, options(batch=5, steps=4, input_dropout=0.999))
    moved = np.abs(m.arrays()["embed"] - embed0).max(axis=1) > 0
    assert moved.sum() <= 3, moved.sum()  # of ~150 * 6 inputs, ~1 kept
    assert np.abs(m.arrays()["recurrent"] - recurrent0).max() > 1e-4
    (base, w0), (one, w1), (two, w2) = (_train("gru", True, t, batch=5, steps=4, input_dropout=p)
                                        for t, p in ((1, 0.0), (1, 0.3), (2, 0.3)))
    assert one["logprob"] != base["logprob"]
    assert one["words"] == base["words"]  # dropped inputs are still scored
    assert two["logprob"] == pytest.approx(one["logprob"], rel=1e-5)
    for name, a in w1.items():
        np.testing.assert_allclose(w2[name], a, rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_thread_count_is_bit_reproducible():
    """The parts and their reductions' order depend on the thread count only, not on timing."""
    kw = dict(batch=5, steps=4, dropout=0.3, independent=True)
    (st1, w1), (st2, w2) = _train("gru", True, 2, **kw), _train("gru", True, 2, **kw)
    assert st1["logprob"] == st2["logprob"]
    for name, a in w1.items():
        np.testing.assert_array_equal(a, w2[name], err_msg=name)


def test_stats_are_exact_with_two_threads():
    ids, offsets = corpus(200, seed=3)
    m = tiny_model("lstm", True, hidden=12)
    st = _core.train_block_epoch(m, ids, offsets, options(batch=8, steps=6, threads=2))
    assert not st["diverged"] and not st["interrupted"]
    assert st["processed"] == offsets[-1]
    assert st["words"] == int((ids >= 0).sum())
    assert st["blocks"] > 0 and st["gemm_seconds"] <= st["seconds"]


def test_more_streams_than_sentences():
    m = tiny_model("sigmoid", False)
    ids, offsets = corpus(3)
    st = _core.train_block_epoch(m, ids, offsets, options(batch=16, steps=3))
    assert st["processed"] == offsets[-1] and st["words"] == int((ids >= 0).sum())


@pytest.mark.parametrize("threads", [1, 2])
def test_progress_false_stops_the_epoch(threads):
    """The callback comes every ~200 ms with (positions, ln-prob so far); False stops at once."""
    m = tiny_model("lstm", False, hidden=64)
    ids, offsets = corpus(40000, seed=5)
    calls = []

    def progress(done, logprob):
        calls.append((done, logprob))
        return False

    st = _core.train_block_epoch(m, ids, offsets, options(batch=threads, steps=1, lr=0.1, threads=threads),
                                 progress=progress)
    assert st["interrupted"] and len(calls) == 1
    assert calls[0][0] == st["processed"] < offsets[-1]
    assert calls[0][1] == st["logprob"] < 0


@pytest.mark.parametrize("threads", [1, 2])
def test_divergence_stops_without_applying_the_block(threads):
    m = tiny_model("sigmoid", False)
    m.arrays()["class_w"][0, 0] = np.nan
    ids, offsets = corpus(20)
    before = {k: v.copy() for k, v in m.arrays().items()}
    st = _core.train_block_epoch(m, ids, offsets, options(threads=threads))
    assert st["diverged"] and st["blocks"] == 0 and st["processed"] == 0
    for name, a in before.items():  # NaN where it was, nothing else changed
        np.testing.assert_array_equal(m.arrays()[name], a, err_msg=name)


@pytest.mark.parametrize("field,value,message", [
    ("lr", 0.0, "lr must be a positive number"),
    ("lr", float("nan"), "lr must be a positive number"),
    ("l2", -1.0, "l2 must be a number >= 0"),
    ("clip_norm", -1.0, "clip_norm must be a number >= 0"),
    ("dropout", 1.0, "dropout must be in [0, 1)"),
    ("input_dropout", 1.0, "input_dropout must be in [0, 1)"),
    ("input_dropout", -0.1, "input_dropout must be in [0, 1)"),
    ("batch", 0, "batch must be in 1..4096"),
    ("steps", 1001, "steps must be in 1..1000"),
    ("threads", 0, "threads must be in 1..4096"),
])
def test_bad_options_are_config_errors(field, value, message):
    m = tiny_model("gru", False)
    ids, offsets = corpus(5)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.")):
        _core.train_block_epoch(m, ids, offsets, options(**{field: value}))
    with pytest.raises(ConfigError):
        _core.block_gradient(m, ids, offsets, options(**{field: value}))


def test_block_size_is_bounded():
    m = tiny_model("gru", False)
    ids, offsets = corpus(5)
    with pytest.raises(ConfigError, match=r"batch \* steps must be at most 65536 positions per block"):
        _core.train_block_epoch(m, ids, offsets, options(batch=4096, steps=17))


def test_option_dicts_are_checked():
    m = tiny_model("gru", False)
    ids, offsets = corpus(5)
    with pytest.raises(ConfigError, match="unknown block training option 'bptt'"):
        _core.train_block_epoch(m, ids, offsets, {**options(), "bptt": 3})
    o = options()
    del o["steps"]
    with pytest.raises(ConfigError, match="'steps' is missing"):
        _core.train_block_epoch(m, ids, offsets, o)


@pytest.mark.parametrize("clip", [0.0, 0.5])
def test_one_block_epoch_is_one_sgd_step_on_block_gradient(clip):
    """A corpus that fits in one block: the epoch moves every weight by -lr * (s * g + l2 * W)
    (l2 on recurrent and class_w only), s = min(1, clip / |g without direct|)."""
    m = tiny_model("gru", True)
    ids, offsets = corpus(6)
    o = options(batch=2, steps=int(offsets[-1]), clip_norm=clip, l2=0.01, lr=0.3)
    grad, _ = _core.block_gradient(m, ids, offsets, o)
    g = grad.arrays()
    before = {k: v.copy() for k, v in m.arrays().items()}
    st = _core.train_block_epoch(m, ids, offsets, o)
    assert st["blocks"] == 1
    norm = np.sqrt(sum(float((v.astype(np.float64) ** 2).sum()) for k, v in g.items() if k != "direct"))
    s = min(1.0, clip / norm) if clip > 0 else 1.0
    assert clip == 0 or s < 1  # the clipped case really clips
    for name, w in m.arrays().items():
        decay = o["l2"] * before[name] if name in ("recurrent", "class_w") else 0
        expected = before[name] - o["lr"] * (s * g[name] + decay)
        np.testing.assert_allclose(w, expected, rtol=1e-5, atol=1e-6, err_msg=name)


# --- against the NumPy oracle (tests/reference_block.py, float64) ------------------------
def oracle_of(m: _core.Model):
    from reference_block import BlockReference

    return BlockReference(m.arrays(), np.asarray(m.class_begin), m.cell, direct_order=m.direct_order)


@pytest.mark.parametrize("independent", [False, True])
@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize("cell", ["sigmoid", "tanh", "gru", "lstm"])
def test_block_gradient_matches_the_oracle(cell, direct, independent):
    m = tiny_model(cell, direct)
    ids, offsets = corpus(12)
    o = options(batch=3, steps=5, independent=independent)
    grad, loss = _core.block_gradient(m, ids, offsets, o)
    ref = oracle_of(m)
    ref.independent = independent
    ref.start(ids, offsets, o["batch"])
    logprob, _, expected = ref.block_gradient(o["steps"])
    assert loss == pytest.approx(-logprob / o["batch"], rel=1e-5)
    for name, g in grad.arrays().items():
        e = expected[name]
        assert np.abs(e).max() > 1e-3, name  # not a vacuous comparison
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * np.abs(e).max(), err_msg=name)


@pytest.mark.parametrize("cell,direct,independent", [("sigmoid", False, False), ("gru", True, True),
                                                     ("lstm", True, False)])
def test_epoch_matches_the_oracle(cell, direct, independent):
    """A whole epoch of many blocks (state carried between blocks, clipping active, the last
    block ragged) against the oracle's epoch, dropout off."""
    m = tiny_model(cell, direct)
    ids, offsets = corpus(30, seed=7)
    o = options(batch=4, steps=3, lr=0.2, clip_norm=0.5, l2=0.01, independent=independent)
    ref = oracle_of(m)
    expected = ref.train_epoch_blocks(ids, offsets, batch=o["batch"], steps=o["steps"], lr=o["lr"],
                                      clip_norm=o["clip_norm"], l2=o["l2"], independent=independent)
    st = _core.train_block_epoch(m, ids, offsets, o)
    assert st["logprob"] == pytest.approx(expected, rel=1e-4)
    for name, w in m.arrays().items():
        np.testing.assert_allclose(w, ref.w[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_the_gil_is_released_during_the_epoch():
    """While an epoch runs in one Python thread, another keeps running Python code."""
    import threading

    m = tiny_model("lstm", False, hidden=64)
    ids, offsets = corpus(2000, seed=5)
    done = threading.Event()
    result = {}

    def run():
        result["stats"] = _core.train_block_epoch(m, ids, offsets, options(batch=2, steps=2, lr=0.1))
        done.set()

    worker = threading.Thread(target=run)
    ticks = 0
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    assert result["stats"]["processed"] == offsets[-1]
    assert ticks > 1000, ticks
