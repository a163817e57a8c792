"""The recurrent cells (csrc/rnn.cc), with and without direct connections, against the NumPy
reference: per-word probabilities, and gradients against the reference and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ACTIVATIONS, reference_of, small_model

from rnnlm_fast import _core

# The engine's finite differences are float32: a loose absolute tolerance.
ENGINE_FD_ATOL = 2e-3


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
def test_gradient_matches_reference(tmp_path, activation):
    model = small_model(tmp_path, activation)
    ids = np.array([model.vocab[w] for w in "w3 w1 w4 w1 w5 w9".split()] + [0], dtype=np.int32)
    grad = _core.sentence_gradient(model._core, ids).arrays()
    expected = reference_of(model).sentence_gradient(ids)
    for name, g in grad.items():
        np.testing.assert_allclose(g, expected[name], rtol=1e-4, atol=2e-6, err_msg=name)


# A sampled coordinate's gradient must stand well above the check's absolute tolerance
# (1e-6), so that a gradient wrongly computed as zero cannot pass.
MIN_SAMPLED_GRADIENT = 1e-4


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_reference_gradient_matches_finite_differences(tmp_path, activation):
    """Six coordinates per weight (fewer where it has fewer), drawn only among those the sentence has a
    gradient for (rows of the words in it, hashed n-gram slots it touches): a coordinate whose gradient
    is exactly zero would compare 0 with 0 and prove nothing."""
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    ids = [model.vocab[w] for w in "w3 w1 w4 w1 w5".split()] + [0]
    grad = ref.sentence_gradient(ids)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name, w in ref.w.items():
        candidates = np.flatnonzero(np.abs(grad[name]) > MIN_SAMPLED_GRADIENT)
        n = min(6, w.size)  # class_b has one entry per class
        assert len(candidates) >= n, (name, len(candidates))
        for flat in rng.choice(candidates, size=n, replace=False):
            idx = np.unravel_index(int(flat), w.shape)
            assert abs(grad[name][idx]) > MIN_SAMPLED_GRADIENT, (name, idx)
            if name == "embed":  # only the input words' rows have a gradient
                assert idx[0] in [0, *ids[:-1]], idx
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
    eps = 1e-2
    for name, w in model.weights().items():
        g = grad[name]
        # The coordinates with the largest gradients: finite differences are meaningful there.
        flat = np.argsort(np.abs(g).ravel())[::-1][:3]
        for f in flat:
            idx = np.unravel_index(f, w.shape)
            # Well above the absolute tolerance, so a zero (or missing) gradient cannot pass.
            assert abs(g[idx]) > 5 * ENGINE_FD_ATOL, (name, idx, g[idx])
            old = w[idx]
            w[idx] = old + eps
            up = model.score([sentence])[0]
            w[idx] = old - eps
            down = model.score([sentence])[0]
            w[idx] = old
            fd = (up - down) / (2 * eps) * np.log(10)
            assert abs(fd - g[idx]) < ENGINE_FD_ATOL + 2e-2 * abs(fd), (name, idx, fd, g[idx])
