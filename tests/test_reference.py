"""The C++ engine against the NumPy reference and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlm_fast import RNNLM, Vocabulary, _core

from corpora import write_corpus
from reference import ReferenceRNNLM

CELLS = ["sigmoid", "tanh", "relu", "gru", "lstm"]
# Every cell, and every cell with hashed max-ent direct connections (order 3).
ACTIVATIONS = CELLS + [f"{c}+direct" for c in CELLS]


def small_model(tmp_path, activation="sigmoid", hidden=8, classes=5, seed=3) -> RNNLM:
    cell, _, direct = activation.partition("+")
    path = write_corpus(tmp_path / "c.txt", 60, seed=seed, vocab_size=25)
    vocab = Vocabulary.from_corpus(path, classes=classes)
    model = RNNLM(vocab, hidden=hidden, cell=cell, seed=seed, direct=64 if direct else 0, direct_order=3)
    # Random biases and max-ent weights too, so every parameter's gradient path is exercised.
    rng = np.random.default_rng(seed)
    for name in ("hidden_bias", "class_b", "word_b", "direct"):
        w = model.weights().get(name)
        if w is not None:
            w[:] = rng.normal(0, 0.3, w.shape).astype(np.float32)
    if cell == "relu":  # keep units away from the kink so differences are smooth
        model.weights()["hidden_bias"][:] += 0.5
    return model


def reference_of(model: RNNLM) -> ReferenceRNNLM:
    return ReferenceRNNLM(model.weights(), model.vocab.class_begin, model.cell, model.direct_order)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_probabilities_match_reference(tmp_path, activation):
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    sentences = ["w1 w2 w3", "w4 w4 w4 w4 w7", "w0"]
    ours = model.score_words(sentences)
    for s, lp10 in zip(sentences, ours):
        ids = [model.vocab[w] for w in s.split()] + [0]
        expected = ref.sentence_logprobs(ids) / np.log(10)
        np.testing.assert_allclose(lp10, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_distribution_sums_to_one_and_matches_reference(tmp_path, activation):
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    p = model.next_word_distribution(["w3", "w5"])
    assert p.shape == (len(model.vocab),)
    assert abs(float(p.sum(dtype=np.float64)) - 1.0) < 1e-5
    h, c = ref.initial_state()
    history = [0] * max(ref.order - 1, 1)
    for w in [0, model.vocab["w3"], model.vocab["w5"]]:
        h, c, _ = ref.step(w, h, c)
        history = ref._push(history, w)
    np.testing.assert_allclose(p, ref.distribution(h, history), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_matches_reference(tmp_path, activation):
    model = small_model(tmp_path, activation)
    ids = np.array([model.vocab[w] for w in "w3 w1 w4 w1 w5 w9".split()] + [0], dtype=np.int32)
    grad = _core.sentence_gradient(model._core, ids).arrays()
    expected = reference_of(model).sentence_gradient(ids)
    for name, g in grad.items():
        np.testing.assert_allclose(g, expected[name], rtol=1e-4, atol=2e-6, err_msg=name)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_reference_gradient_matches_finite_differences(tmp_path, activation):
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    ids = [model.vocab[w] for w in "w3 w1 w4 w1 w5".split()] + [0]
    grad = ref.sentence_gradient(ids)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name, w in ref.w.items():
        for _ in range(6):
            idx = tuple(int(rng.integers(d)) for d in w.shape)
            old = w[idx]
            w[idx] = old + eps
            up = ref.sentence_logprobs(ids).sum()
            w[idx] = old - eps
            down = ref.sentence_logprobs(ids).sum()
            w[idx] = old
            fd = (up - down) / (2 * eps)
            assert abs(fd - grad[name][idx]) < 1e-6 + 1e-5 * abs(fd), (name, idx, fd, grad[name][idx])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_engine_gradient_matches_engine_finite_differences(tmp_path, activation):
    """Finite differences of the C++ scorer itself (float32, so a loose tolerance)."""
    model = small_model(tmp_path, activation)
    sentence = "w3 w1 w4 w1 w5"
    ids = np.array([model.vocab[w] for w in sentence.split()] + [0], dtype=np.int32)
    grad = _core.sentence_gradient(model._core, ids).arrays()
    rng = np.random.default_rng(1)
    eps = 1e-2
    for name, w in model.weights().items():
        g = grad[name]
        # The coordinates with the largest gradients: finite differences are meaningful there.
        flat = np.argsort(np.abs(g).ravel())[::-1][:3]
        for f in flat:
            idx = np.unravel_index(f, w.shape)
            old = w[idx]
            w[idx] = old + eps
            up = model.score([sentence])[0]
            w[idx] = old - eps
            down = model.score([sentence])[0]
            w[idx] = old
            fd = (up - down) / (2 * eps) * np.log(10)
            assert abs(fd - g[idx]) < 2e-3 + 2e-2 * abs(fd), (name, idx, fd, g[idx])
        assert rng is not None


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("bptt,block,independent", [(4, 10, False), (1, 1, False), (3, 5, True)])
def test_training_epoch_matches_reference(tmp_path, activation, bptt, block, independent):
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    enc = model.encode_sentences(["w1 w2 w3 w4", "w5 w6 w1", "w2 w2 w2 w9 w1 w0 w3", "w4 w4",
                                  "w7 w8 w9 w1 w2 w3 w4 w5 w6", "w3 w1"])
    opts = dict(lr=0.1, beta=1e-3, gradient_cutoff=15.0, bptt=bptt, bptt_block=block, independent=independent)
    stats = _core.train_epoch(model._core, enc.mapped, enc.offsets, threads=1, **opts)
    expected_logprob = ref.train_epoch(enc.mapped, enc.offsets, **opts)
    assert stats["processed"] == len(enc.mapped)
    assert abs(stats["logprob"] - expected_logprob) < 1e-4 * abs(expected_logprob)
    for name, w in model.weights().items():
        np.testing.assert_allclose(w, ref.w[name], rtol=1e-4, atol=1e-5, err_msg=name)
    # The update really moved the weights (the comparison is not vacuous).
    start = small_model(tmp_path, activation)
    assert not np.allclose(start.weights()["recurrent"], model.weights()["recurrent"])


@pytest.mark.parametrize("activation", ["sigmoid", "gru", "lstm", "gru+direct"])
@pytest.mark.parametrize("dropout,input_dropout", [(0.3, 0.0), (0.6, 0.0), (0.0, 0.3), (0.4, 0.25)])
def test_training_epoch_with_dropout_matches_reference(tmp_path, activation, dropout, input_dropout):
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    enc = model.encode_sentences(["w1 w2 w3 w4", "w5 w6 w1", "w2 w2 w2 w9 w1 w0 w3", "w7 w8 w9 w1 w2 w3 w4"])
    opts = dict(lr=0.1, beta=1e-3, gradient_cutoff=15.0, bptt=3, bptt_block=5, independent=False,
                dropout=dropout, input_dropout=input_dropout)
    stats = _core.train_epoch(model._core, enc.mapped, enc.offsets, threads=1, seed=12345, **opts)
    expected_logprob = ref.train_epoch(enc.mapped, enc.offsets, seed=12345, **opts)
    assert abs(stats["logprob"] - expected_logprob) < 1e-4 * abs(expected_logprob)
    for name, w in model.weights().items():
        np.testing.assert_allclose(w, ref.w[name], rtol=1e-4, atol=1e-5, err_msg=name)
    # the masks matter: the same epoch without dropout ends elsewhere
    plain = small_model(tmp_path, activation)
    _core.train_epoch(plain._core, enc.mapped, enc.offsets, threads=1, **{**opts, "dropout": 0, "input_dropout": 0})
    assert not np.allclose(plain.weights()["word_w"], model.weights()["word_w"], atol=1e-5)
