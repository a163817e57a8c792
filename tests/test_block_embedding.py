"""The embedding layer (model option ``embedding``: words enter through a shared V x E table and a
G*H x E projection, csrc/block_embedding.cc): its block gradient against finite differences and
the NumPy oracle, training with it (dropout on the embedding, threads, reproducibility), scoring
through the one-step path, model files, and what refuses it."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlm_fast import RNNLM, _core
from rnnlm_fast.errors import ConfigError, ModelFormatError
from test_block_trainer import EPS, FD_ATOL, FD_RTOL, corpus, options, oracle_of, tiny_model

E = 4


def test_weight_shapes_of_an_embedding_model():
    shapes = _core.weight_shapes(10, 5, 3, "lstm", 0, E)
    assert tuple(shapes["embed"]) == (10, E) and tuple(shapes["input_w"]) == (20, E)
    assert "input_w" not in _core.weight_shapes(10, 5, 3, "lstm", 0)
    m = tiny_model("gru", False, embedding=E)
    assert m.embedding == E and m.arrays()["input_w"].shape == (3 * 6, E)


@pytest.mark.parametrize("cell,direct", [("sigmoid", False), ("gru", True), ("lstm", False), ("lstm", True)])
def test_block_gradient_matches_the_oracle(cell, direct):
    m = tiny_model(cell, direct, embedding=E)
    ids, offsets = corpus(12)
    o = options(batch=3, steps=5)
    grad, loss = _core.block_gradient(m, ids, offsets, o)
    ref = oracle_of(m)
    ref.start(ids, offsets, o["batch"])
    logprob, _, expected = ref.block_gradient(o["steps"])
    assert loss == pytest.approx(-logprob / o["batch"], rel=1e-5)
    assert set(grad.arrays()) == set(expected) and "input_w" in expected
    for name, g in grad.arrays().items():
        e = expected[name]
        assert np.abs(e).max() > 1e-3, name
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * np.abs(e).max(), err_msg=name)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_block_gradient_matches_finite_differences(cell):
    m = tiny_model(cell, False, embedding=E)
    ids, offsets = corpus(12)
    o = options()
    grad, _ = _core.block_gradient(m, ids, offsets, o)
    weights = m.arrays()

    def loss_at(name, idx, value):
        old = weights[name][idx]
        weights[name][idx] = value
        out = _core.block_gradient(m, ids, offsets, o)[1]
        weights[name][idx] = old
        return out

    for name in ("input_w", "embed"):
        g = grad.arrays()[name]
        for f in np.argsort(np.abs(g).ravel())[::-1][:4]:
            idx = np.unravel_index(int(f), g.shape)
            w0 = float(weights[name][idx])
            fd = (loss_at(name, idx, w0 + EPS) - loss_at(name, idx, w0 - EPS)) / (2 * EPS)
            assert abs(g[idx]) > 5 * FD_ATOL
            assert g[idx] == pytest.approx(fd, rel=FD_RTOL, abs=FD_ATOL), (name, idx)


def test_epoch_matches_the_oracle():
    """Many blocks with clipping and L2 (input_w decays like the recurrent matrix), dropout off."""
    m = tiny_model("lstm", True, embedding=E)
    ids, offsets = corpus(30, seed=7)
    o = options(batch=4, steps=3, lr=0.2, clip_norm=0.5, l2=0.01)
    ref = oracle_of(m)
    expected = ref.train_epoch_blocks(ids, offsets, batch=4, steps=3, lr=0.2, clip_norm=0.5, l2=0.01)
    st = _core.train_block_epoch(m, ids, offsets, o)
    assert st["logprob"] == pytest.approx(expected, rel=1e-4)
    for name, w in m.arrays().items():
        np.testing.assert_allclose(w, ref.w[name], rtol=1e-4, atol=1e-5, err_msg=name)


def _train(threads: int, dropout: float = 0.3, seed: int = 9):
    ids, offsets = corpus(150, seed=4)
    m = tiny_model("lstm", False, hidden=10, embedding=E)
    st = _core.train_block_epoch(m, ids, offsets, options(batch=6, steps=4, threads=threads, dropout=dropout,
                                                          input_dropout=0.1, seed=seed))
    return st, {k: v.copy() for k, v in m.arrays().items()}


def test_dropout_on_the_embedding_is_reproducible_and_agrees_across_threads():
    one, w1 = _train(1)
    again, w1b = _train(1)
    assert one["logprob"] == again["logprob"]
    for name, a in w1.items():
        np.testing.assert_array_equal(a, w1b[name], err_msg=name)
    two, w2 = _train(2)
    assert two["logprob"] == pytest.approx(one["logprob"], rel=1e-5)
    for name, a in w1.items():
        np.testing.assert_allclose(w2[name], a, rtol=1e-4, atol=1e-5, err_msg=name)
    other, _ = _train(1, seed=10)  # other masks: another epoch
    assert other["logprob"] != one["logprob"]


def test_epochs_lower_the_loss():
    m = tiny_model("lstm", False, hidden=12, embedding=6)
    ids, offsets = corpus(200, seed=3)
    before = float(_core.score_positions(m, ids, offsets, False, 1).sum())
    for _ in range(3):
        st = _core.train_block_epoch(m, ids, offsets, options(batch=8, steps=6, lr=0.5, dropout=0.2))
        assert not st["diverged"]
    after = float(_core.score_positions(m, ids, offsets, False, 1).sum())
    assert after > before + 0.05 * abs(before), (before, after)


@pytest.mark.parametrize("cell", ["sigmoid", "gru", "lstm"])
def test_scoring_matches_the_reference(cell):
    """The scorer's one-step path (Model::cell_update projects the embedding) against the oracle."""
    m = tiny_model(cell, True, embedding=E)
    ref = oracle_of(m)
    ids = np.array([3, 7, 1, 12, 0], np.int32)
    got = _core.score_positions(m, ids, np.array([0, 5], np.int64), True, 1)
    np.testing.assert_allclose(got, ref.sentence_logprobs(ids), rtol=1e-5, atol=1e-5)


def test_model_file_round_trip(tmp_path, toy_vocab):
    model = RNNLM(toy_vocab, hidden=8, cell="lstm", embedding=5)
    path = tmp_path / "m.rnnlm"
    model.save(path)
    assert path.read_bytes()[8:12] == (3).to_bytes(4, "little")  # older readers refuse it by version
    back = RNNLM.load(path)
    assert back.embedding == 5
    for name, a in model.weights().items():
        np.testing.assert_array_equal(back.weights()[name], a, err_msg=name)
    sentence = " ".join(toy_vocab.words[1:4])
    assert back.score(sentence) == pytest.approx(model.score(sentence))


def test_online_training_refuses_an_embedding(toy, toy_vocab):
    model = RNNLM(toy_vocab, hidden=8, cell="lstm", embedding=5)
    with pytest.raises(ConfigError, match="embedding layer.*batch > 1"):
        model.train_epoch(toy["train"], batch=1, progress=False)
    engine = _core.TrainOptions(lr=0.1, l2=0.0, gradient_cutoff=15.0, bptt=4, bptt_block=10,
                                independent=False,
                                dropout=0.0, input_dropout=0.0, seed=7, threads=1, streams=1)
    with pytest.raises(ConfigError, match="embedding"):
        _core.train_epoch(model._core, np.array([1, 2, 0], np.int32), np.array([0, 3], np.int64), engine)
    with pytest.raises(ConfigError, match="dynamic evaluation.*embedding layer"):
        model.perplexity(toy["valid"], dynamic=0.1)
    before = model.perplexity(toy["valid"], progress=False).ppl
    model.train_epoch(toy["train"], batch=4, progress=False)  # block training takes it
    assert model.perplexity(toy["valid"], progress=False).ppl < before


def test_rnnlm04b_export_refuses_an_embedding(tmp_path, toy_vocab):
    from rnnlm_fast.rnnlm04b import save_rnnlm04b

    model = RNNLM(toy_vocab, hidden=8, embedding=5)
    with pytest.raises(ModelFormatError, match="embedding layer"):
        save_rnnlm04b(model, tmp_path / "m.txt")
