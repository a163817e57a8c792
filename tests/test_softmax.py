"""The class-factored softmax (csrc/class_softmax.cc), direct connections included: the next-word
distribution over the whole vocabulary sums to 1 and matches the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ACTIVATIONS, reference_of, small_model


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
        history = ref.push_history(history, w)
    np.testing.assert_allclose(p, ref.distribution(h, history), rtol=1e-4, atol=1e-7)
