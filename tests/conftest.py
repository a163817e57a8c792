"""Shared fixtures: small generated corpora, and the toy-grammar files and models built on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpora import sentences, write_corpus, write_text
from helpers import CLASSES, HIDDEN

from rnnlm_fast import RNNLM, Vocabulary


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "train.txt", 200, seed=0)


@pytest.fixture
def valid_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "valid.txt", 40, seed=1)


@pytest.fixture
def run_data(tmp_path: Path) -> tuple[Path, Path, Vocabulary]:
    """(train, valid, vocabulary) for checkpoint and resume runs: generated, 4 classes."""
    train = write_corpus(tmp_path / "train.txt", 150, seed=0)
    valid = write_corpus(tmp_path / "valid.txt", 30, seed=1)
    return train, valid, Vocabulary.from_corpus(train, classes=4)


# --- the toy grammar of corpora.sentences: one set of files per test module -------------
@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict[str, Path]:
    """train/valid/test text, an untrained model (hidden HIDDEN, seed 1) and its vocabulary."""
    d = tmp_path_factory.mktemp("toy")
    train = write_text(d / "train.txt", sentences(300, seed=0))
    valid = write_text(d / "valid.txt", sentences(50, seed=1))
    test = write_text(d / "test.txt", sentences(40, seed=2))
    vocab = Vocabulary.from_corpus(train, classes=CLASSES)
    model = RNNLM(vocab, hidden=HIDDEN, seed=1)
    model.save(d / "model.rnnlm")
    vocab.save(d / "vocab.txt")
    return {"train": train, "valid": valid, "test": test,
            "model": d / "model.rnnlm", "vocab": d / "vocab.txt"}


@pytest.fixture(scope="module")
def toy_vocab(toy) -> Vocabulary:
    return Vocabulary.from_corpus(toy["train"], classes=CLASSES)


@pytest.fixture
def toy_model(toy_vocab) -> RNNLM:
    """A fresh untrained model (hidden HIDDEN, seed 1): tests may change it."""
    return RNNLM(toy_vocab, hidden=HIDDEN, seed=1)


@pytest.fixture(scope="module")
def toy_lm(toy, tmp_path_factory) -> Path:
    """A model file trained through the API on the toy files (2 epochs, one thread)."""
    out = tmp_path_factory.mktemp("model") / "lm.rnnlm"
    vocab = Vocabulary.from_corpus(toy["train"], classes=CLASSES)
    model = RNNLM(vocab, hidden=HIDDEN, seed=1)
    model.train(toy["train"], toy["valid"], max_epochs=2, threads=1, progress=False)
    model.save(out)
    return out


# --- small trained models on the generated corpus ------------------------------------------
@pytest.fixture
def trained_sigmoid(corpus, valid_corpus) -> RNNLM:
    """Sigmoid, hidden 16, two epochs with BPTT 3 in blocks of 5 (dynamic evaluation reuses them)."""
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    m = RNNLM(vocab, hidden=16, seed=1)
    m.train(corpus, valid_corpus, max_epochs=2, bptt=3, bptt_block=5, progress=False)
    return m


@pytest.fixture
def trained_gru(corpus, valid_corpus) -> RNNLM:
    """GRU, hidden 12, with order-2 direct connections, two epochs."""
    vocab = Vocabulary.from_corpus(corpus, classes=6)
    m = RNNLM(vocab, hidden=12, cell="gru", seed=2, direct=256, direct_order=2)
    m.train(corpus, valid_corpus, max_epochs=2, progress=False)
    return m
