"""Fixtures shared by the pytest-benchmark suites: a fixed slice of Penn Treebank and its vocabulary.

The data directory is ``<repo>/../shared/data`` (the workspace layout), or ``$RNNLM_DATA``; it must hold
``ptb/train.txt``. Where it does not, every benchmark is skipped with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

# NumPy's BLAS, the yardstick of bench_gemm.py, on one thread like each engine thread (set before
# NumPy loads its BLAS).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.encoding import Encoded

SLICE_WORDS = 100_000  # words of ptb/train.txt (</s> not counted) for the training benchmarks


def _data_dir() -> Path:
    env = os.environ.get("RNNLM_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def ptb_dir() -> Path:
    d = _data_dir() / "ptb"
    if not (d / "train.txt").is_file():
        pytest.skip(f"Penn Treebank not found at {d} (set RNNLM_DATA to the folder that holds ptb/)")
    return d


@pytest.fixture(scope="session")
def nbest_hypotheses() -> list[list[str]]:
    """The hypotheses of the LibriSpeech dev_other ESPnet 10-best lists, lower-cased for the PTB
    vocabulary."""
    from rnnlm_fast.nbest import read_nbest

    d = _data_dir() / "nbest" / "librispeech_espnet_10best" / "inference" / "dev_other"
    if not d.is_dir():
        pytest.skip(f"n-best lists not found at {d} (set RNNLM_DATA to the folder that holds nbest/)")
    return [[h.text.lower() for h in nb.hyps] for nb in read_nbest(d)]


@pytest.fixture(scope="session")
def ptb_vocab(ptb_dir: Path) -> Vocabulary:
    """Vocabulary of the full ptb/train.txt with 100 classes."""
    return Vocabulary.from_corpus(ptb_dir / "train.txt", classes=100)


@pytest.fixture(scope="session")
def ptb_slice_path(ptb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first whole sentences of ptb/train.txt, up to the one that reaches 100,000 words."""
    out = tmp_path_factory.mktemp("ptb") / "train.100k.txt"
    n = 0
    with open(ptb_dir / "train.txt", encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            dst.write(line)
            n += len(line.split())
            if n >= SLICE_WORDS:
                break
    return out


def _encode(vocab: Vocabulary, path: Path) -> Encoded:
    # Ids depend only on the words, so a tiny model encodes for every hidden size and class count.
    return RNNLM(vocab, hidden=1).encode_file(path)


@pytest.fixture(scope="session")
def ptb_slice(ptb_vocab: Vocabulary, ptb_slice_path: Path) -> Encoded:
    """The 100k-word slice, encoded once."""
    return _encode(ptb_vocab, ptb_slice_path)


@pytest.fixture(scope="session")
def ptb_train(ptb_vocab: Vocabulary, ptb_dir: Path) -> Encoded:
    """The whole ptb/train.txt, encoded once."""
    return _encode(ptb_vocab, ptb_dir / "train.txt")


# --- a words/s summary after the pytest-benchmark tables (extra_info is not shown in them) ---------------
_SUMMARY: list[tuple[str, dict]] = []
_KEYS = ("words_per_sec", "sentences_per_sec", "us_per_word", "speedup_vs_numpy", "train_over_score",
         "speedup", "sync_mb", "model_mb", "combine_ms", "compute_us_per_word", "wait_us_per_word", "gflops",
         "noise", "sgemm_gflops", "pct_of_sgemm", "R")


@pytest.fixture(autouse=True)
def _collect_extra_info(request: pytest.FixtureRequest):
    yield
    bench = request.node.funcargs.get("benchmark")
    if bench is not None and any(k in bench.extra_info for k in _KEYS):
        _SUMMARY.append((request.node.nodeid.split("::")[-1], dict(bench.extra_info)))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _SUMMARY:
        return
    terminalreporter.section("throughput (extra_info)")
    width = max(len(name) for name, _ in _SUMMARY)
    for name, info in _SUMMARY:
        fields = "  ".join(f"{k}={info[k]:,}" for k in _KEYS if k in info)
        terminalreporter.write_line(f"{name:<{width}}  {fields}")
