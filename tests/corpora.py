"""Test corpora: generated text and the shared data directory."""

from __future__ import annotations

import math
import os
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

DATA = Path(os.environ.get("RNNLM_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def data_path(*parts: str) -> Path:
    """A file under the shared data directory, or skip the test with the reason."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present (set RNNLM_DATA to the shared data directory)")
    return p


def write_corpus(path: Path, n_sentences: int = 200, seed: int = 0, vocab_size: int = 40) -> Path:
    """A corpus with learnable structure: each word mostly predicts the next."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocab_size)]
    lines = []
    for _ in range(n_sentences):
        n = int(rng.integers(3, 12))
        cur = int(rng.integers(vocab_size))
        sent = []
        for _ in range(n):
            sent.append(words[cur])
            cur = (cur * 7 + 3) % vocab_size if rng.random() < 0.7 else int(rng.integers(vocab_size))
        lines.append(" ".join(sent))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sentences(n: int, seed: int) -> list[str]:
    """A toy grammar over ~30 words: det (adj) noun verb (det noun)."""
    rng = random.Random(seed)
    dets = ["the", "a", "some", "every", "this", "that"]
    adjs = [f"adj{i}" for i in range(6)]
    nouns = [f"noun{i}" for i in range(10)]
    verbs = [f"verb{i}" for i in range(8)]
    out = []
    for _ in range(n):
        s = [rng.choice(dets)]
        if rng.random() < 0.5:
            s.append(rng.choice(adjs))
        s += [rng.choice(nouns), rng.choice(verbs)]
        if rng.random() < 0.7:
            s += [rng.choice(dets), rng.choice(nouns)]
        out.append(" ".join(s))
    return out


def write_text(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def levenshtein(ref: list[str], hyp: list[str]) -> int:
    """Textbook word edit distance: the independent oracle for WER figures."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i]
        for j, h in enumerate(hyp, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def bigram_arpa(text: Path, out: Path) -> Path:
    """A bigram ARPA file of ``text``: maximum-likelihood bigrams, unigrams (``<unk>`` given a
    count of 1) backing off with weight 10**-0.1. Not normalised; KenLM reads it."""
    lines = [["<s>", *line.split(), "</s>"] for line in text.read_text(encoding="utf-8").splitlines()]
    uni = Counter(w for ws in lines for w in ws[1:])
    uni["<unk>"] = 1
    bi = Counter(pair for ws in lines for pair in zip(ws, ws[1:]))
    ctx = Counter(w for ws in lines for w in ws[:-1])
    total = sum(uni.values())
    arpa = ["\\data\\", f"ngram 1={len(uni) + 1}", f"ngram 2={len(bi)}", "", "\\1-grams:", "-99\t<s>\t-0.1"]
    arpa += [f"{math.log10(c / total):.6f}\t{w}\t-0.1" for w, c in sorted(uni.items())]
    arpa += ["", "\\2-grams:"]
    arpa += [f"{math.log10(c / ctx[a]):.6f}\t{a} {b}" for (a, b), c in sorted(bi.items())]
    out.write_text("\n".join(arpa + ["", "\\end\\", ""]), encoding="utf-8")
    return out
