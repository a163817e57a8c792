"""The block-synchronous oracle checked against itself: its gradient against central
differences of its own loss, and training that lowers the loss of the text it trains on."""

from __future__ import annotations

import numpy as np
import pytest

from reference import GATES
from reference_block import BlockReference, numerical_block_gradient

V, C, H = 12, 3, 5


def tiny(cell: str, direct: int = 0, seed: int = 0) -> BlockReference:
    rng = np.random.default_rng(seed)
    G = GATES[cell]
    w = {"embed": rng.normal(0, 0.3, (V, G * H)), "recurrent": rng.normal(0, 0.3, (G * H, H)),
         "hidden_bias": rng.normal(0, 0.1, G * H), "class_w": rng.normal(0, 0.3, (C, H)),
         "class_b": rng.normal(0, 0.1, C), "word_w": rng.normal(0, 0.3, (V, H)),
         "word_b": rng.normal(0, 0.1, V)}
    if direct:
        w["direct"] = rng.normal(0, 0.1, direct)
    return BlockReference(w, np.array([0, 3, 7, V]), cell, direct_order=3 if direct else 0)


def corpus(seed: int = 1, sentences: int = 7):
    rng = np.random.default_rng(seed)
    ids, offsets = [], [0]
    for _ in range(sentences):
        ids += [int(x) for x in rng.integers(1, V, rng.integers(1, 6))] + [0]
        offsets.append(len(ids))
    ids[3] = -1  # an unknown word: no input, not scored
    return np.array(ids, np.int32), np.array(offsets, np.int64)


@pytest.mark.parametrize("cell", ["sigmoid", "tanh", "gru", "lstm"])
@pytest.mark.parametrize("direct", [0, 64])
@pytest.mark.parametrize("independent", [False, True])
def test_block_gradient_matches_central_differences(cell, direct, independent):
    ref = tiny(cell, direct)
    ref.independent = independent
    ids, offsets = corpus()
    ref.start(ids, offsets, 2)
    _, scored, g = ref.block_gradient(6)
    assert scored > 4
    rng = np.random.default_rng(3)
    for name, grad in g.items():
        nonzero = np.argwhere(grad != 0)
        assert len(nonzero) > 0, name
        for idx in nonzero[rng.choice(len(nonzero), min(4, len(nonzero)), replace=False)]:
            idx = tuple(idx)
            num = numerical_block_gradient(ref, ids, offsets, 2, 6, name, idx)
            assert grad[idx] == pytest.approx(num, rel=1e-5, abs=1e-8), (name, idx)


def test_training_lowers_the_loss_of_its_text():
    ref = tiny("gru")
    ids, offsets = corpus(sentences=12)
    first = ref.train_epoch_blocks(ids, offsets, batch=3, steps=4, lr=0.5)
    for _ in range(4):
        last = ref.train_epoch_blocks(ids, offsets, batch=3, steps=4, lr=0.5)
    assert last > first + 1.0  # log-likelihood of the same text went up


def test_clipping_bounds_the_step():
    ref = tiny("sigmoid")
    ids, offsets = corpus()
    before = {k: v.copy() for k, v in ref.w.items()}
    ref.independent = False
    ref.start(ids, offsets, 2)
    ref.train_block(5, lr=1.0, clip_norm=1e-3)
    moved = np.sqrt(sum(((ref.w[k] - before[k]) ** 2).sum() for k in before))
    assert moved == pytest.approx(1e-3, rel=1e-9)
