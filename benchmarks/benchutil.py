"""Helpers for the bench_*.py modules (pytest puts benchmarks/ on sys.path when it imports them)."""

from __future__ import annotations

import os

import numpy as np

from rnnlm_fast.encoding import Encoded

SEED = 1
# rnnlm-0.4b's Penn Treebank setting.
PTB = {"hidden": 200, "classes": 100, "bptt": 4, "bptt_block": 10, "activation": "sigmoid", "lr": 0.1,
       "l2": 1e-6, "gradient_cutoff": 15.0}
# The options of one training epoch in that setting (RNNLM.train_epoch's keywords).
PTB_EPOCH = {k: PTB[k] for k in ("lr", "l2", "bptt", "bptt_block", "gradient_cutoff")}


def thread_counts() -> list[int]:
    """1 and 2 always; 4, 8 and 16 where the machine has that many cores."""
    cores = os.cpu_count() or 1
    return [1, 2] + [t for t in (4, 8, 16) if t <= cores]


def head(enc: Encoded, n: int) -> Encoded:
    """The first whole sentences of a forward-encoded text, holding >= n positions."""
    s = min(int(np.searchsorted(enc.offsets, n)), len(enc.offsets) - 1)
    offsets = np.ascontiguousarray(enc.offsets[: s + 1])
    ids = np.ascontiguousarray(enc.ids[: offsets[-1]])
    return Encoded(ids, offsets, int((ids < 0).sum()), np.ascontiguousarray(enc.mapped[: offsets[-1]]))


def record(benchmark, positions: int, **info) -> None:
    """Store the parameters, and words/s: positions over the mean time of the measured call."""
    benchmark.extra_info.update(info)
    benchmark.extra_info["positions"] = int(positions)
    if benchmark.stats is not None:  # None under --benchmark-disable
        mean = benchmark.stats.stats.mean
        benchmark.extra_info["words_per_sec"] = round(positions / mean, 1)
        benchmark.extra_info["us_per_word"] = round(mean / positions * 1e6, 4)
