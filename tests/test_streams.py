"""Batched streams (csrc/batch_trainer.cc, csrc/batch_output.cc, csrc/gemm.cc): the matrix kernels
against NumPy, the batched gradient against the per-sentence gradients and finite differences,
and training with several streams per thread (learning, seeding, threads, option checks).
The NumPy reference of the batched training step is checked in test_streams_reference.py."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ACTIVATIONS, small_model

from rnnlm_fast import RNNLM, ConfigError, Vocabulary, _core

SENTENCES = ["w3 w1 w4 w1 w5 w9", "w2 w2", "w7 w1 w4 w8", "w3 w1", "w0 w6 w6 w5 w4 w3 w2 w1"]


# --- kernels -------------------------------------------------------------------------------
@pytest.mark.parametrize("rows,cols,n", [(1, 1, 1), (7, 13, 3), (16, 32, 4), (33, 200, 9), (100, 203, 64),
                                         (1200, 40, 5), (5, 8, 70)])
def test_batched_kernels_match_numpy(rows, cols, n):
    rng = np.random.default_rng(rows * 1000 + cols + n)
    M = rng.standard_normal((rows, cols), dtype=np.float32)
    X = rng.standard_normal((n, cols), dtype=np.float32)
    A = rng.standard_normal((n, rows), dtype=np.float32)
    m64, x64, a64 = M.astype(np.float64), X.astype(np.float64), A.astype(np.float64)
    tol = 1e-5 * max(rows, cols)
    np.testing.assert_allclose(_core.matmul_nt(M, X), x64 @ m64.T, rtol=1e-4, atol=tol)
    np.testing.assert_allclose(_core.matmul_nn(A, M), a64 @ m64, rtol=1e-4, atol=tol)
    D = A * np.float32(0.01)
    W = M.copy()
    _core.rank_k_update(W, D, X, 0.5, 0.9)
    np.testing.assert_allclose(W, 0.9 * m64 + 0.5 * D.astype(np.float64).T @ x64, rtol=1e-4, atol=tol)


@pytest.mark.parametrize("rows,cols", [(1, 1), (9, 13), (37, 200), (800, 400)])
def test_batched_product_equals_one_vector_product_bit_for_bit(rows, cols):
    """matmul_nt (scoring lanes, training streams) and matvec (one stream) give identical
    floats for every row and vector, so batched scoring equals one-at-a-time scoring exactly."""
    rng = np.random.default_rng(cols)
    M = rng.standard_normal((rows, cols), dtype=np.float32)
    X = rng.standard_normal((11, cols), dtype=np.float32)
    Y = _core.matmul_nt(M, X)
    for v in range(len(X)):
        np.testing.assert_array_equal(Y[v], _core.matvec(M, X[v]))


def test_kernel_shapes_are_checked():
    with pytest.raises(ConfigError, match="columns"):
        _core.matmul_nt(np.zeros((3, 4), np.float32), np.zeros((2, 5), np.float32))
    with pytest.raises(ConfigError, match="rows"):
        _core.matmul_nn(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(ConfigError):
        _core.rank_k_update(np.zeros((3, 4), np.float32), np.zeros((2, 4), np.float32),
                            np.zeros((2, 4), np.float32), 1.0, 1.0)


# --- gradients -----------------------------------------------------------------------------
def _encoded(model, sentences):
    ids = [np.array([model.vocab[w] for w in s.split()] + [0], dtype=np.int32) for s in sentences]
    offsets = np.cumsum([0] + [len(i) for i in ids]).astype(np.int64)
    return ids, np.concatenate(ids), offsets


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_batched_gradient_is_the_sum_of_sentence_gradients(tmp_path, activation):
    """Sentences of unequal length side by side (lanes go idle as theirs end): batching adds
    the per-sentence gradients (themselves checked against the NumPy reference and finite
    differences in test_cells.py) and nothing else."""
    model = small_model(tmp_path, activation)
    ids, flat, offsets = _encoded(model, SENTENCES)
    batched = _core.batch_gradient(model._core, flat, offsets).arrays()
    total = None
    for sentence in ids:
        g = _core.sentence_gradient(model._core, sentence).arrays()
        total = {k: v.copy() for k, v in g.items()} if total is None else {k: total[k] + g[k] for k in total}
    for name, g in batched.items():
        assert np.abs(total[name]).max() > 1e-3, name  # not a vacuous comparison
        np.testing.assert_allclose(g, total[name], rtol=1e-5, atol=2e-6, err_msg=name)


@pytest.mark.parametrize("activation", ["sigmoid", "gru+direct", "lstm", "tanh+direct"])
def test_batched_gradient_matches_finite_differences(tmp_path, activation):
    """Central differences of the summed log-probability of the batch, from the engine's scorer."""
    model = small_model(tmp_path, activation)
    _, flat, offsets = _encoded(model, SENTENCES[:4])
    grad = _core.batch_gradient(model._core, flat, offsets).arrays()
    eps, atol = 1e-2, 2e-3
    for name, w in model.weights().items():
        g = grad[name]
        for f in np.argsort(np.abs(g).ravel())[::-1][:3]:
            idx = np.unravel_index(f, w.shape)
            assert abs(g[idx]) > 5 * atol, (name, idx, g[idx])
            old = w[idx]
            w[idx] = old + eps
            up = sum(model.score(SENTENCES[:4]))
            w[idx] = old - eps
            down = sum(model.score(SENTENCES[:4]))
            w[idx] = old
            fd = (up - down) / (2 * eps) * np.log(10)
            assert abs(fd - g[idx]) < atol + 2e-2 * abs(fd), (name, idx, fd, g[idx])


# --- training ------------------------------------------------------------------------------
def test_training_with_streams_lowers_validation_perplexity(corpus, valid_corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    model = RNNLM(vocab, hidden=16, seed=1)
    before = model.perplexity(valid_corpus).ppl
    history = model.train(corpus, valid_corpus, max_epochs=8, streams=4, progress=False)
    after = model.perplexity(valid_corpus).ppl
    assert after < 0.7 * before
    assert all(r.train_ppl > 1 for r in history)


@pytest.mark.parametrize("cell", ["sigmoid", "gru", "lstm"])
def test_streams_with_one_thread_are_reproducible(corpus, cell):
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    runs = []
    for _ in range(2):
        model = RNNLM(vocab, hidden=12, cell=cell, seed=3, direct=4096, direct_order=3)
        stats = model.train_epoch(corpus, threads=1, streams=5, dropout=0.2, input_dropout=0.1, seed=9)
        runs.append((stats.logprob, {k: v.copy() for k, v in model.weights().items()}))
    assert runs[0][0] == runs[1][0]
    for name in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][name], runs[1][1][name], err_msg=name)


def test_streams_change_the_updates_and_every_position_is_trained_once(corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    one, many = RNNLM(vocab, hidden=12, seed=3), RNNLM(vocab, hidden=12, seed=3)
    a = one.train_epoch(corpus, threads=1, streams=1)
    b = many.train_epoch(corpus, threads=1, streams=7)
    assert a.processed == b.processed and a.words == b.words
    assert not np.allclose(one.weights()["recurrent"], many.weights()["recurrent"])
    # the same text, so the epoch's average log-probability is of the same size
    assert abs(a.logprob - b.logprob) < 0.2 * abs(a.logprob)


def test_streams_combine_with_threads(corpus, valid_corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    model = RNNLM(vocab, hidden=16, cell="gru", seed=1)
    before = model.perplexity(valid_corpus).ppl
    stats = model.train_epoch(corpus, threads=2, streams=4)
    assert stats.processed > 0 and np.isfinite(stats.logprob)
    assert model.perplexity(valid_corpus).ppl < before


def test_more_streams_than_sentences_leave_lanes_idle(tmp_path):
    model = small_model(tmp_path, "lstm")
    enc = model.encode_sentences(["w1 w2", "w3"])
    stats = model.train_epoch(enc, threads=1, streams=16)
    assert stats.processed == len(enc.mapped)
    assert np.isfinite(stats.logprob)


def test_streams_option_is_checked(corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    model = RNNLM(vocab, hidden=8, seed=1)
    for bad in (0, -1, 1025, 2.5):
        with pytest.raises(ConfigError, match="streams"):
            model.train_epoch(corpus, streams=bad)
    with pytest.raises(ConfigError, match="streams=1"):
        model.train_epoch(corpus, streams=2, return_positions=True)
