"""Shared fixtures: small generated corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpora import write_corpus


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "train.txt", 200, seed=0)


@pytest.fixture
def valid_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "valid.txt", 40, seed=1)
