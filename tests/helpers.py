"""Helpers shared by the test files: small models, comparisons, message checks, fault injection
and the in-process command line. Fixtures live in conftest.py, corpora in corpora.py."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from corpora import write_corpus
from reference import ReferenceRNNLM

import rnnlm_fast._files
from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.cli import main

# The size of the toy-grammar model of the ``toy``, ``toy_model`` and ``toy_lm`` fixtures (conftest.py).
HIDDEN = 8
CLASSES = 5

BOOKS = resources.files("rnnlm_fast") / "data"  # the packaged sample corpora

CELLS = ["sigmoid", "tanh", "relu", "gru", "lstm"]
# Every cell, and every cell with hashed max-ent direct connections (order 3).
ACTIVATIONS = CELLS + [f"{c}+direct" for c in CELLS]


# --- models ---------------------------------------------------------------------------
def trained(corpus, valid_corpus, **kw) -> RNNLM:
    """A model trained on a generated corpus (3 epochs, hidden 16, seed 1 unless given)."""
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    model = RNNLM(vocab, hidden=kw.pop("hidden", 16), seed=kw.pop("seed", 1))
    model.train(corpus, valid_corpus, progress=False, **{"max_epochs": 3, **kw})
    return model


def small_model(tmp_path: Path, activation: str = "sigmoid", hidden: int = 8, classes: int = 5,
                seed: int = 3) -> RNNLM:
    """A tiny model for the reference checks; ``activation`` is a cell, optionally ``+direct``."""
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
    """The NumPy oracle holding a float64 copy of ``model``'s weights."""
    return ReferenceRNNLM(model.weights(), model.vocab.class_begin, model.cell, model.direct_order)


def same_model(a: RNNLM, b: RNNLM) -> bool:
    """The same vocabulary and bit-identical weights."""
    wa, wb = a.weights(), b.weights()
    return a.vocab == b.vocab and wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


# --- training runs stopped at an epoch boundary -----------------------------------------
# Checkpoint tests: one thread, a schedule that never stops early.
RUN_OPTS = dict(lr=0.1, bptt=3, bptt_block=5, min_improvement=1.0, max_epochs=8, threads=1)


class Stop(Exception):
    pass


def stop_after(n: int):
    """A training callback that raises Stop after the ``n``-th epoch record."""
    seen = []

    def callback(record):
        seen.append(record)
        if len(seen) == n:
            raise Stop

    return callback


def stopped_run(model: RNNLM, train, valid, checkpoint: Path, epochs: int = 1, **opts) -> RNNLM:
    """Train ``model`` with RUN_OPTS (updated by ``opts``), writing ``checkpoint``, and stop it
    after ``epochs`` epoch records; returns the model."""
    with pytest.raises(Stop):
        model.train(train, valid, progress=False, checkpoint=checkpoint, callback=stop_after(epochs),
                    **{**RUN_OPTS, **opts})
    return model


# --- error messages -------------------------------------------------------------------
def said(exc: BaseException, path: Path, line: int | None = None) -> str:
    """Assert that the message names ``path`` (as ``path:line:`` when given); return the rest.

    Keywords are then checked without the path, which holds the test's name.
    """
    msg = str(exc)
    where = f"{path}:{line}:" if line is not None else str(path)
    assert where in msg, (where, msg)
    return msg.replace(where, "<where>")


# --- failing writes -------------------------------------------------------------------
class FailingFile:
    """Wraps a file object; write() raises ``exc`` once more than ``limit`` bytes were written."""

    def __init__(self, f, limit: int, exc: BaseException):
        self._f, self._limit, self._exc, self._written = f, limit, exc, 0

    def write(self, data) -> int:
        n = len(data) if isinstance(data, str) else memoryview(data).nbytes
        if self._written + n > self._limit:
            part = self._limit - self._written
            self._f.write(data[:part])
            self._written = self._limit
            raise self._exc
        self._written += n
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        self._f.__enter__()
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def fail_writes_after(monkeypatch, limit: int, exc: BaseException) -> None:
    """Make every atomic write of the package fail with ``exc`` after ``limit`` bytes."""
    real = os.fdopen

    def fdopen(fd, *args, **kwargs):
        return FailingFile(real(fd, *args, **kwargs), limit, exc)

    monkeypatch.setattr(rnnlm_fast._files.os, "fdopen", fdopen)


# --- the command line, in-process ------------------------------------------------------
def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    """``rnnlm-fast argv...`` through ``rnnlm_fast.cli.main``: (exit status, stdout, stderr)."""
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, out: str, err: str, where: str, *needles: str) -> None:
    """Exit status 2 and one stderr line naming ``where`` (a path, or ``path:line:``) and
    holding each of ``needles`` outside that path (which contains the test's name)."""
    assert rc == 2, (rc, out, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("rnnlm-fast: error: "), err
    assert where in lines[0], (where, err)
    rest = lines[0].replace(where, "<where>")
    for n in needles:
        assert n in rest, (n, err)
