"""Training speed (words/s) of one epoch over the first 100,000 words of PTB.

The PTB configuration of rnnlm-0.4b: hidden 200, 100 classes, sigmoid, BPTT 4 steps every 10 words,
lr 0.1. Every round trains a freshly seeded model, so each does the same work; only the epoch is timed.
Groups: ``-k threads`` (1, 2, and 4/8/16 where the machine has them), ``-k hidden`` (100/200/400 at one
thread), ``-k classes`` (50/100/200 at one thread), ``-k cells`` (sigmoid, GRU, LSTM, each with and
without 2M direct connections, at one thread).
"""

from __future__ import annotations

import pytest
from benchutil import PTB, PTB_EPOCH, SEED, record, thread_counts

from rnnlm_fast import RNNLM
from rnnlm_fast.options import lr_for

ROUNDS = 3


def _bench_epoch(benchmark, vocab, enc, *, hidden: int, threads: int, cell: str = PTB["activation"],
                 direct: int = 0, lr: float = PTB["lr"]) -> None:
    def setup():
        model = RNNLM(vocab, hidden=hidden, cell=cell, seed=SEED, direct=direct, direct_order=3)
        return (model,), {}

    def epoch(model):
        return model.train_epoch(enc, threads=threads, **dict(PTB_EPOCH, lr=lr))

    stats = benchmark.pedantic(epoch, setup=setup, rounds=ROUNDS, iterations=1)
    assert not stats.diverged
    record(benchmark, stats.processed, threads=threads, hidden=hidden, classes=vocab.n_classes, cell=cell,
           direct=direct)


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
