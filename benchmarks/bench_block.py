"""Block-synchronous training (issue 27): the whole training step's achieved GFLOP/s next to sgemm's at
the step's shapes, both measured in the same run, and the speed-up over online SGD (batch=1).

One measured call = one epoch of ``RNNLM.train_epoch(enc, batch=32, bptt=T, threads=t)`` on the first
whole sentences of PTB holding MODELS[model] positions (100 classes), for sigmoid H=200 (T=4),
GRU H=400, LSTM H=400 and LSTM H=650 (T=20); each round trains a freshly seeded model.

Model FLOPs per position (the model's own work only, never what the implementation adds)::

    F = 3 * 2 * (G*H*H + G*H*E + C*H + S*H)

- ``G*H*H``: the recurrent / gate products (G = 1 simple cell, 3 GRU, 4 LSTM); the input projection
  is an embedding gather without an embedding layer: 0 multiply-adds;
- ``G*H*E``: with an embedding layer of width E (``test_block_step_embedding``), its projection;
- ``C*H``: the class layer over all C classes;
- ``S*H``: the word layer over the target class's words, S = the slice's mean class size over its
  tokens (the expected size of the target's class);
- ``2 *``: a multiply-add is two FLOPs; ``3 *``: forward once, backward and weight gradients as 2x
  the forward.

achieved GFLOP/s = F * positions / epoch seconds (median round). The yardstick, sgemm's GFLOP/s at the
step's shapes, is the FLOP-weighted (harmonic) mean over the products a block needs, each timed by the
kept BLAS alone in this run (``bench_blas.sgemm_gflops`` on one library thread, times the engine's
threads: t threads split each phase, every product on one library thread), each in the orientation the
engine calls it: recurrent forward GH x B x H (NT: U^T = recurrent Hprev^T), backward B x H x GH (NN),
gradient GH x H x T*B (TN); class layer T*B x C x H, T*B x H x C, C x H x T*B; word layer n x S x H, n x
H x S, S x H x n with n = the mean number of a block's positions per target class present (weights: the
model FLOPs of each product). extra_info: ``gflops`` (achieved), ``sgemm_gflops``, ``pct_of_sgemm``,
``words_per_sec``, ``online_words_per_sec`` and ``speedup`` (batch=1 online SGD, rnnlm-0.4b's bptt 4 /
block 10, same threads, same slice, same run), ``R`` (sgemm / sgemv at 1200x400, B=32 vs 1, one BLAS
thread, bench_blas.sgemm_sgemv_ratio), ``scaling`` (words/s at t threads over one thread's, when both
ran in the session) and the FLOP counts.

``python -m pytest benchmarks/bench_block.py --benchmark-only`` (a few minutes; ``-k t1`` one thread).
"""

from __future__ import annotations

import statistics
from typing import Any, Optional

import numpy as np
import pytest
from bench_blas import sgemm_gflops, sgemm_sgemv_ratio
from benchutil import PTB_EPOCH, SEED, head, record

from rnnlm_fast import RNNLM, _core
from rnnlm_fast.options import lr_for

# Per model: (positions of the PTB slice per measured epoch, T). The positions give rounds of about a
# second or more, so the first blocks' cold start (fresh buffers faulted in, weights out of cache)
# weighs as little as in a real epoch (PTB: 930k positions); at 20k the sigmoid model's rounds took
# 0.2 s and ran 15-20% below its steady state (2026-12-07, Zen 4). T: the set-up each model trains
# with; the sigmoid model's is rnnlm-0.4b's bptt 4 (test PPL 144.2 at B=32, T=4; at T=20 it learns
# at a third of the pace, docs/performance.md).
MODELS = {("sigmoid", 200): (100_000, 4), ("gru", 400): (40_000, 20), ("lstm", 400): (40_000, 20),
          ("lstm", 650): (40_000, 20)}
B = 32  # streams per block
ROUNDS = 3
GATES = {"sigmoid": 1, "tanh": 1, "relu": 1, "gru": 3, "lstm": 4}

_R: list[float] = []  # R, measured once per session
_ONE_THREAD: dict[tuple[str, int], float] = {}  # words/s at one thread, per model, this session


def _ratio() -> float:
    if not _R:
        _R.append(sgemm_sgemv_ratio(1200, 400, 32))
    return _R[0]


def model_flops(G: int, H: int, C: int, S: float, E: int = 0) -> float:
    """F, the model's FLOPs per position (the formula above; with an embedding layer of width E,
    plus 6 G*H*E for its projection)."""
    return 6.0 * (G * H * H + G * H * E + C * H + S * H)


def class_stats(vocab, enc, T: int, batch: int = B) -> tuple[float, float]:
    """(S, n): the mean class size over the slice's scored tokens, and the mean number of a block's
    T*B positions per target class present (consecutive T*B-token chunks)."""
    targets = enc.mapped[enc.mapped >= 0]
    cls = np.asarray(vocab.word_class)[targets]
    sizes = np.diff(np.asarray(vocab.class_begin))
    chunks = np.array_split(cls, max(1, len(cls) // (T * batch)))
    per_class = [len(chunk) / len(np.unique(chunk)) for chunk in chunks]
    return float(sizes[cls].mean()), float(statistics.mean(per_class))


def products(G: int, H: int, C: int, S: float, n: float, T: int, batch: int = B,
             E: int = 0) -> list[tuple[float, tuple]]:
    """(model FLOPs per block, (m, n, k, trans_a, trans_b)) of every product a block needs; with an
    embedding layer of width E, its projection's too: T*B x G*H x E (NT), T*B x E x G*H (NN),
    G*H x E x T*B (TN)."""
    GH, TB = G * H, T * batch
    rec, cls_, word = 2.0 * TB * GH * H, 2.0 * TB * C * H, 2.0 * TB * S * H
    rows, size = max(1, round(n)), max(1, round(S))
    shapes = [(rec, (GH, batch, H, False, True)), (rec, (batch, H, GH, False, False)),
              (rec, (GH, H, TB, True, False)), (cls_, (TB, C, H, False, True)),
              (cls_, (TB, H, C, False, False)), (cls_, (C, H, TB, True, False)),
              (word, (rows, size, H, False, True)), (word, (rows, H, size, False, False)),
              (word, (size, H, rows, True, False))]
    if E > 0:
        proj = 2.0 * TB * GH * E
        shapes += [(proj, (TB, GH, E, False, True)), (proj, (TB, E, GH, False, False)),
                   (proj, (GH, E, TB, True, False))]
    return shapes


def yardstick(shapes: list[tuple[float, tuple]], threads: int) -> float:
    """FLOP-weighted harmonic mean of one library thread's sgemm GFLOP/s over the products, times
    `threads`: the engine splits each phase over its threads, every product on one library thread,
    so t threads can at best run t such products at once."""
    total = sum(f for f, _ in shapes)
    seconds = sum(f / sgemm_gflops(m, n, k, trans_a=ta, trans_b=tb, threads=1, seconds=0.2)
                  for f, (m, n, k, ta, tb) in shapes)
    return threads * total / seconds


def measure_block_step(benchmark, vocab, enc, cell: str, hidden: int, threads: int, batch: int, T: int,
                       embedding: int = 0) -> Optional[tuple[Any, float]]:
    """Times ROUNDS block epochs of freshly seeded models over ``enc``, records them and reports
    achieved GFLOP/s next to sgemm's at the step's shapes (extra_info); returns (stats, median
    seconds), or None under --benchmark-disable."""
    G, C = GATES[cell], vocab.n_classes
    S, n = class_stats(vocab, enc, T, batch)

    def fresh():
        return (RNNLM(vocab, hidden=hidden, cell=cell, seed=SEED, embedding=embedding),), {}

    def block(model):
        return model.train_epoch(enc, batch=batch, bptt=T, threads=threads)

    stats = benchmark.pedantic(block, setup=fresh, rounds=ROUNDS, iterations=1)
    assert not stats.diverged
    record(benchmark, stats.processed, threads=threads, cell=cell, hidden=hidden, batch=batch, steps=T)
    if benchmark.stats is None:  # --benchmark-disable
        return None
    seconds = benchmark.stats.stats.median
    flops = model_flops(G, hidden, C, S, embedding)
    achieved = flops * stats.processed / seconds / 1e9
    peak = yardstick(products(G, hidden, C, S, n, T, batch, embedding), threads)
    benchmark.extra_info.update(
        gflops=round(achieved, 1), sgemm_gflops=round(peak, 1), pct_of_sgemm=round(100 * achieved / peak, 1),
        words_per_sec=round(stats.processed / seconds, 1), mflop_per_word=round(flops / 1e6, 3),
        mean_class_size=round(S, 1), rows_per_class=round(n, 1), blas=_core.blas_name())
    return stats, seconds


@pytest.mark.parametrize("threads", [1, 2], ids=lambda t: f"t{t}")
@pytest.mark.parametrize("cell,hidden", MODELS, ids=lambda v: str(v))
def test_block_step(benchmark, ptb_vocab, ptb_slice, cell, hidden, threads):
    positions, T = MODELS[(cell, hidden)]
    benchmark.group = f"block training (B={B}, T={T}): {cell} H={hidden}"
    enc = head(ptb_slice, positions)
    measured = measure_block_step(benchmark, ptb_vocab, enc, cell, hidden, threads, B, T)
    if measured is None:
        return
    stats, seconds = measured
    # online SGD (batch=1) in the same run, same slice and threads
    online = RNNLM(ptb_vocab, hidden=hidden, cell=cell, seed=SEED)
    ost = online.train_epoch(enc, threads=threads, **dict(PTB_EPOCH, lr=lr_for(cell)))
    if threads == 1:
        _ONE_THREAD[(cell, hidden)] = stats.processed / seconds
    one = _ONE_THREAD.get((cell, hidden))
    if threads > 1 and one:  # the thread scaling, when the one-thread case ran in this session
        benchmark.extra_info["scaling"] = round(stats.processed / seconds / one, 2)
    benchmark.extra_info.update(
        online_words_per_sec=round(ost.processed / ost.seconds, 1),
        speedup=round(ost.seconds / seconds * stats.processed / ost.processed, 2), R=round(_ratio(), 2))


@pytest.mark.parametrize("threads", [1, 2], ids=lambda t: f"t{t}")
def test_block_step_embedding(benchmark, ptb_vocab, ptb_slice, threads):
    """LSTM H=650 with an embedding layer E=650 (the "best in an hour" model, B=16, T=20 as it
    trains): model_flops and products with E. No online comparison: online SGD has no embedding
    layer."""
    hidden, E, batch, T = 650, 650, 16, 20
    benchmark.group = f"block training (B={batch}, T={T}): lstm H={hidden} E={E}"
    if measure_block_step(benchmark, ptb_vocab, head(ptb_slice, 40_000), "lstm", hidden, threads, batch, T,
                          embedding=E) is not None:
        benchmark.extra_info["embedding"] = E
