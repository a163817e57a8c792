"""The engine's own API (``rnnlm_fast._core``): encoding with OOV mapping and reading order,
the declared engine facts (cells, weight shapes, limits, whitespace), TrainOptions, and the
vocabulary rules' errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnlm_fast import ConfigError, Vocabulary, VocabularyError, _core
from rnnlm_fast.vocab import WHITESPACE


# --- encoding ------------------------------------------------------------------------
def reference_encoded(ids: np.ndarray, offsets: np.ndarray, oov: int, unk: int, backward: bool):
    """The NumPy path the engine replaces (RNNLM._encoded and _reversal before issue 12)."""
    mapped = np.where(ids < 0, unk, ids).astype(np.int32) if (oov and unk >= 0) else ids
    if not backward:
        return ids, mapped, offsets, oov, None
    n = int(offsets[-1])
    lengths = np.diff(offsets)
    sentence = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(n, dtype=np.int64)
    last = offsets[1:][sentence] - 1
    order = np.where(position == last, position, offsets[:-1][sentence] + last - 1 - position)
    ids = np.ascontiguousarray(ids[order])
    return ids, ids if mapped is ids else np.ascontiguousarray(mapped[order]), offsets, oov, order


SENTENCES = ["the cat sat", "", "a dog  barked at\tthe zebra", "unseen", "the the cat",
             "cat\u00a0dog x\u2028y"]


def vocabulary(with_unk: bool) -> Vocabulary:
    words = (["</s>", "the", "cat", "<unk>", "a", "dog", "sat"] if with_unk
             else ["</s>", "the", "cat", "a", "dog", "sat"])
    n = len(words)
    return Vocabulary(words, [n - i for i in range(n)], [0] * (n // 2) + [1] * (n - n // 2))


def assert_same(got: dict, want: tuple, unk: int) -> None:
    ids, mapped, offsets, oov, order = want
    assert (got["ids"].dtype == np.int32 and got["mapped"].dtype == np.int32
            and got["offsets"].dtype == np.int64)
    np.testing.assert_array_equal(got["ids"], ids)
    np.testing.assert_array_equal(got["mapped"], mapped)
    np.testing.assert_array_equal(got["offsets"], offsets)
    assert got["oov"] == oov
    # One array when nothing is mapped (the NumPy path also copied it for a backward model).
    assert (got["mapped"] is got["ids"]) == (oov == 0 or unk < 0)
    if order is None:
        assert got["order"] is None
    else:
        assert got["order"].dtype == np.int64
        np.testing.assert_array_equal(got["order"], order)
        np.testing.assert_array_equal(got["order"][got["order"]], np.arange(len(order)))  # its own inverse


@pytest.mark.parametrize("with_unk", [True, False])
@pytest.mark.parametrize("backward", [False, True])
def test_encode_text_matches_the_numpy_path(tmp_path: Path, with_unk: bool, backward: bool):
    vocab = vocabulary(with_unk)
    text = tmp_path / "text.txt"
    text.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    # the oracle's ids: each word looked up in Python, -1 when unknown, </s> (0) after each sentence
    words = [_core.split_words(s) for s in SENTENCES]
    ids = np.array([vocab.get(w, -1) for ws in words for w in ws + ["</s>"]], dtype=np.int32)
    offsets = np.cumsum([0] + [len(ws) + 1 for ws in words]).astype(np.int64)
    oov = int((ids < 0).sum())
    want = reference_encoded(ids, offsets, oov, vocab.unk_id, backward)
    assert oov > 0
    assert_same(_core.encode_file(vocab._core, str(text), backward=backward, max_line_bytes=1 << 16), want,
                vocab.unk_id)
    assert_same(_core.encode_sentences(vocab._core, SENTENCES, backward=backward), want, vocab.unk_id)


@pytest.mark.parametrize("backward", [False, True])
def test_encode_text_without_unknown_words_shares_one_array(backward: bool):
    vocab = vocabulary(True)
    got = _core.encode_sentences(vocab._core, ["the cat", "a dog sat"], backward=backward)
    assert got["oov"] == 0 and got["mapped"] is got["ids"]
    assert got["ids"].tolist() == ([1, 2, 0, 4, 5, 6, 0] if not backward else [2, 1, 0, 6, 5, 4, 0])


def test_encode_text_sentences_empty_list():
    vocab = vocabulary(True)
    for backward in (False, True):
        got = _core.encode_sentences(vocab._core, [], backward=backward)
        assert got["ids"].tolist() == [] and got["offsets"].tolist() == [0] and got["oov"] == 0
        assert (got["order"] is None) == (not backward)


# --- whitespace ----------------------------------------------------------------------
def test_one_whitespace_rule():
    assert sorted(_core.WHITESPACE) == sorted(" \t\n\v\f\r") and WHITESPACE == _core.WHITESPACE
    assert _core.split_words(" a\tb\u00a0c\vd\fe\rf\ng  ") == ["a", "b\u00a0c", "d", "e", "f", "g"]
    for c in _core.WHITESPACE:
        with pytest.raises(VocabularyError, match="word 1 .* contains whitespace"):
            Vocabulary(["</s>", f"a{c}b"], [1, 1], [0, 0])
    Vocabulary(["</s>", "a\u00a0b", "x\u2028y"], [1, 1, 1], [0, 0, 0])  # not the engine's whitespace


# --- engine facts ----------------------------------------------------------------------
@pytest.mark.parametrize("cell", _core.CELLS)
@pytest.mark.parametrize("direct", [0, 64])
def test_weight_shapes_are_the_models_arrays(cell: str, direct: int):
    class_begin = [0, 3, 7, 10]
    model = _core.Model(10, 5, class_begin, cell, direct=direct, direct_order=3 if direct else 0,
                        direct_hash="splitmix")
    shapes = _core.weight_shapes(10, 5, 3, cell, direct)
    arrays = model.arrays()
    assert list(arrays) == list(shapes)
    assert {k: v.shape for k, v in arrays.items()} == shapes
    G = _core.cell_gates(cell)
    assert shapes["embed"] == (10, G * 5) and shapes["recurrent"] == (G * 5, 5)
    assert ("direct" in shapes) == bool(direct) and model.direct == direct


def test_cells_and_limits():
    assert _core.CELLS == ("sigmoid", "tanh", "relu", "gru", "lstm")
    assert [_core.cell_gates(c) for c in _core.CELLS] == [1, 1, 1, 3, 4]
    with pytest.raises(ConfigError, match="unknown cell"):
        _core.cell_gates("elman")
    assert (_core.MAX_HIDDEN, _core.MAX_DIRECT_ORDER, _core.MAX_DIRECT_SIZE) == (100000, 32, 2**34)
    with pytest.raises(ConfigError, match="100000"):
        _core.Model(4, _core.MAX_HIDDEN + 1, [0, 4], "sigmoid", direct=0, direct_order=0,
                    direct_hash="splitmix")
    with pytest.raises(ConfigError, match="32"):
        _core.Model(4, 2, [0, 4], "sigmoid", direct=64, direct_order=_core.MAX_DIRECT_ORDER + 1,
                    direct_hash="splitmix")
    with pytest.raises(ConfigError, match="2\\^34"):
        _core.Model(4, 2, [0, 4], "sigmoid", direct=_core.MAX_DIRECT_SIZE + 1, direct_order=2,
                    direct_hash="splitmix")


# --- training options ------------------------------------------------------------------
OPTIONS = dict(lr=0.1, l2=1e-6, gradient_cutoff=15.0, bptt=4, bptt_block=10, independent=False,
               dropout=0.25, input_dropout=0.1, seed=7, threads=1, streams=1)


@pytest.mark.parametrize("missing", list(OPTIONS))
def test_train_options_require_every_field(missing: str):
    with pytest.raises(TypeError):
        _core.TrainOptions(**{k: v for k, v in OPTIONS.items() if k != missing})


def test_train_options_fields():
    with pytest.raises(TypeError):
        _core.TrainOptions(*OPTIONS.values())  # keywords only
    o = _core.TrainOptions(**OPTIONS)
    assert {k: getattr(o, k) for k in OPTIONS} == pytest.approx(OPTIONS)
    o.bptt = 0
    assert o.bptt == 0
    with pytest.raises(ConfigError, match="bptt"):
        o.validate()


def _epoch(base, enc: dict, **changes) -> dict:
    model = base.copy()
    _core.train_epoch(model, enc["mapped"], enc["offsets"], _core.TrainOptions(**{**OPTIONS, **changes}))
    return {k: v.copy() for k, v in model.arrays().items()}


@pytest.mark.parametrize("cell", ["sigmoid", "lstm"])
def test_every_train_option_reaches_the_engine(cell: str):
    """The same options train bit-identically; changing any one field changes the weights."""
    vocab = vocabulary(True)
    enc = _core.encode_sentences(vocab._core, SENTENCES * 5, backward=False)
    base = _core.Model(len(vocab), 6, vocab.class_begin, cell, direct=32, direct_order=2,
                       direct_hash="splitmix")
    base.init_random(3)
    same = _epoch(base, enc)
    again = _epoch(base, enc)
    assert all(np.array_equal(same[k], again[k]) for k in same)
    assert not np.array_equal(same["embed"], base.arrays()["embed"])
    for field, value in dict(lr=0.05, l2=0.01, gradient_cutoff=1e-4, bptt=1, bptt_block=3, independent=True,
                             dropout=0.5, input_dropout=0.5, seed=8, streams=3).items():
        changed = _epoch(base, enc, **{field: value})
        assert any(not np.array_equal(same[k], changed[k]) for k in same), field


@pytest.mark.parametrize("direct_hash", ["splitmix", "rnnlm04b"])
def test_gradient_models_keep_the_models_direct_hash(direct_hash: str):
    """sentence_gradient and batch_gradient accumulate into a zeroed copy of the model's layout."""
    vocab = vocabulary(True)
    enc = _core.encode_sentences(vocab._core, SENTENCES[:3], backward=False)
    m = _core.Model(len(vocab), 4, vocab.class_begin, "gru", direct=32, direct_order=2,
                    direct_hash=direct_hash)
    m.init_random(5)
    ids = enc["mapped"][enc["offsets"][0]:enc["offsets"][1]]
    for grad in (_core.sentence_gradient(m, ids), _core.batch_gradient(m, enc["mapped"], enc["offsets"])):
        assert (grad.direct_hash, grad.cell, grad.direct, grad.direct_order) == (direct_hash, "gru", 32, 2)
        assert list(grad.class_begin) == list(m.class_begin)


def test_the_engine_checks_marks_and_block_sizes():
    """Checks of the engine, not of the binding glue: marks made for another model, blocks of 0 floats."""
    vocab = vocabulary(True)
    enc = _core.encode_sentences(vocab._core, SENTENCES, backward=False)
    m = _core.Model(len(vocab), 4, vocab.class_begin, "sigmoid", direct=64, direct_order=2,
                    direct_hash="splitmix")
    other = _core.Model(len(vocab), 4, vocab.class_begin, "sigmoid", direct=128, direct_order=2,
                        direct_hash="splitmix")
    options = _core.TrainOptions(**OPTIONS)
    _core.EpochRun(m, enc["mapped"], enc["offsets"], options, _core.UpdateMarks(m))
    with pytest.raises(ConfigError, match="other sizes"):
        _core.EpochRun(m, enc["mapped"], enc["offsets"], options, _core.UpdateMarks(other))
    a, buf = np.zeros(8, np.float32), np.zeros(8, np.float32)
    idx = np.array([0], np.int64)
    with pytest.raises(ConfigError, match="block size must be positive"):
        _core.pack_blocks(a, 0, idx, buf)
    with pytest.raises(ConfigError, match="block size must be positive"):
        _core.block_momentum_step_blocks(a, a.copy(), a.copy(), 0, idx, buf, 1.0, 0.5, 1.0, False)
