"""Training speed (words/s) of one epoch over the first 100,000 words of PTB.

The PTB configuration of rnnlm-0.4b: hidden 200, 100 classes, sigmoid, BPTT 4 steps every 10 words,
lr 0.1. Every round trains a freshly seeded model, so each does the same work; only the epoch is timed.
Groups: ``-k threads`` (1, 2, and 4/8/16 where the machine has them), ``-k hidden`` (100/200/400 at one
thread), ``-k classes`` (50/100/200 at one thread), ``-k cells`` (sigmoid, GRU, LSTM, each with and
without 2M direct connections, at one thread), ``-k streams`` (B in 1/8/16/32/64 streams per thread x
sigmoid/GRU/LSTM x H in 200/400/650, one thread, on the first 20,000 words: ``speedup_vs_b1`` in
extra_info is the ratio to B=1 of the same cell and size measured in the same run).
"""

from __future__ import annotations

import pytest
from benchutil import PTB, PTB_EPOCH, SEED, head, record, thread_counts

from rnnlm_fast import RNNLM
from rnnlm_fast.options import lr_for

ROUNDS = 3


def _bench_epoch(benchmark, vocab, enc, *, hidden: int, threads: int, cell: str = PTB["activation"],
                 direct: int = 0, lr: float = PTB["lr"], streams: int = 1) -> None:
    def setup():
        model = RNNLM(vocab, hidden=hidden, cell=cell, seed=SEED, direct=direct, direct_order=3)
        return (model,), {}

    def epoch(model):
        return model.train_epoch(enc, threads=threads, streams=streams, **dict(PTB_EPOCH, lr=lr))

    stats = benchmark.pedantic(epoch, setup=setup, rounds=ROUNDS, iterations=1)
    assert not stats.diverged
    record(benchmark, stats.processed, threads=threads, hidden=hidden, classes=vocab.n_classes, cell=cell,
           direct=direct, streams=streams)


@pytest.mark.parametrize("threads", thread_counts(), ids=lambda t: f"t{t}")
def test_train_threads(benchmark, ptb_vocab, ptb_slice, threads):
    benchmark.group = "train: threads (H=200, 100 classes)"
    _bench_epoch(benchmark, ptb_vocab, ptb_slice, hidden=PTB["hidden"], threads=threads)


@pytest.mark.parametrize("hidden", [100, 200, 400], ids=lambda h: f"H{h}")
def test_train_hidden(benchmark, ptb_vocab, ptb_slice, hidden):
    benchmark.group = "train: hidden size (1 thread, 100 classes)"
    _bench_epoch(benchmark, ptb_vocab, ptb_slice, hidden=hidden, threads=1)


@pytest.mark.parametrize("classes", [50, 100, 200], ids=lambda c: f"C{c}")
def test_train_classes(benchmark, ptb_vocab, ptb_slice, classes):
    benchmark.group = "train: classes (1 thread, H=200)"
    vocab = ptb_vocab if classes == ptb_vocab.n_classes else ptb_vocab.with_classes(classes)
    _bench_epoch(benchmark, vocab, ptb_slice, hidden=PTB["hidden"], threads=1)


@pytest.mark.parametrize("cell", ["sigmoid", "gru", "lstm", "sigmoid+direct", "gru+direct", "lstm+direct"])
def test_train_cells(benchmark, ptb_vocab, ptb_slice, cell):
    benchmark.group = "train: cells (1 thread, H=200, 100 classes)"
    name, _, direct = cell.partition("+")
    _bench_epoch(benchmark, ptb_vocab, ptb_slice, hidden=PTB["hidden"], threads=1, cell=name,
                 direct=2_000_000 if direct else 0, lr=lr_for(name))


STREAMS_WORDS = 20_000
_b1_seconds: dict[tuple[str, int], float] = {}  # (cell, hidden) -> mean epoch time at B=1 in this run


@pytest.mark.parametrize("hidden", [200, 400, 650], ids=lambda h: f"H{h}")
@pytest.mark.parametrize("cell", ["sigmoid", "gru", "lstm"])
@pytest.mark.parametrize("streams", [1, 8, 16, 32, 64], ids=lambda b: f"B{b}")
def test_train_streams(benchmark, ptb_vocab, ptb_slice, streams, cell, hidden):
    benchmark.group = f"train: streams ({cell} H={hidden}, 1 thread, 100 classes)"
    _bench_epoch(benchmark, ptb_vocab, head(ptb_slice, STREAMS_WORDS), hidden=hidden, threads=1, cell=cell,
                 lr=lr_for(cell), streams=streams)
    if benchmark.stats is None:
        return
    mean = benchmark.stats.stats.mean
    if streams == 1:
        _b1_seconds[(cell, hidden)] = mean
    elif (cell, hidden) in _b1_seconds:
        benchmark.extra_info["speedup_vs_b1"] = round(_b1_seconds[(cell, hidden)] / mean, 2)
