"""Fuzz target ``rnnlm04b``: the rnnlm-0.4b model reader (``rnnlm_fast.rnnlm04b``), text and
binary, then scoring with what loaded and writing it back in both formats.

Inputs: random bytes after a ``version: 10`` line; byte mutations of a valid small text file
and of a valid binary one; header lines with random values (huge, negative, non-numeric, a
size that disagrees with the others), with and without byte mutations; random vocabulary lines.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from rnnlm_fast import OovWarning, RNNLM, RnnlmError, Vocabulary
from rnnlm_fast.rnnlm04b import load_rnnlm04b, save_rnnlm04b

_HEADER_KEYS = ["version", "file format", "input layer size", "hidden layer size", "compression layer size",
                "output layer size", "direct connections", "direct order", "vocabulary size", "class size",
                "old classes", "bptt", "starting learning rate", "training data file", "colour"]
_VALUES = st.one_of(st.integers(-(1 << 40), 1 << 40).map(str),
                    st.sampled_from(["", "x", "1e3", "nan", "-0", "9" * 30]), st.text(max_size=6))


def seeds(ws) -> dict[str, bytes]:
    """Valid small rnnlm-0.4b files (text, binary), made once per workspace."""
    if not hasattr(ws, "rnnlm04b"):
        model = RNNLM(Vocabulary(ws.vocab.words, ws.vocab.counts, ws.vocab.word_class), hidden=3, seed=1,
                      direct=40, direct_order=3, direct_hash="rnnlm04b")
        model.weights()["direct"][:] = np.linspace(-1, 1, 40)
        ws.rnnlm04b = {}
        for kind in ("text", "binary"):
            save_rnnlm04b(model, ws.path(f"seed.{kind}"), binary=kind == "binary")
            ws.rnnlm04b[kind] = ws.path(f"seed.{kind}").read_bytes()
    return ws.rnnlm04b


def inputs(ops: st.SearchStrategy) -> st.SearchStrategy:
    """The cases; ``ops``: targets.py's byte mutations."""
    kind = st.sampled_from(["text", "binary"])
    return st.one_of(
        st.binary(max_size=1024).map(lambda b: ("raw", b)),
        st.tuples(kind, ops).map(lambda x: ("mutate", x)),
        st.tuples(kind, st.lists(st.tuples(st.sampled_from(_HEADER_KEYS), _VALUES), min_size=1, max_size=3),
                  ops, st.booleans()).map(lambda x: ("header", x)),
        st.tuples(kind, st.lists(st.tuples(st.integers(-3, 9), st.text(max_size=12)), min_size=1, max_size=4))
        .map(lambda x: ("vocab", x)),
    )


def input_bytes(ws, case, mutate: Callable[[bytes, list], bytes]) -> bytes:
    kind, arg = case
    if kind == "raw":
        return b"version: 10\n" + arg
    data = seeds(ws)[arg[0]]
    if kind == "mutate":
        return mutate(data, arg[1])
    lines = data.split(b"\n")
    if kind == "header":
        _, edits, ops, mutated = arg
        for key, value in edits:
            at = next((i for i, line in enumerate(lines) if line.startswith(key.encode() + b":")), 2)
            lines[at] = f"{key}: {value}".encode("utf-8", "surrogatepass")
        data = b"\n".join(lines)
        return mutate(data, ops) if mutated else data
    first = lines.index(b"Vocabulary:") + 1
    for offset, text in arg[1]:
        lines[first + offset % 8] = text.encode("utf-8", "surrogatepass")
    return b"\n".join(lines)


def make_check(mutate: Callable[[bytes, list], bytes]) -> Callable:
    """The check, applying targets.py's byte mutations with ``mutate``."""
    return lambda ws, case: check(ws, input_bytes(ws, case, mutate))


def check(ws, data: bytes) -> None:
    p = ws.path("fuzz.rnnlm04b")
    p.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class column rnnlm-0.4b would recompute
        try:
            model = load_rnnlm04b(p)
        except RnnlmError:
            return
        warnings.simplefilter("ignore", OovWarning)
        model.score(["the cat sat", ""], max_oov_rate=1.0)
        for binary in (False, True):
            try:
                save_rnnlm04b(model, ws.path("fuzz.out"), binary=binary)
            except RnnlmError:
                continue
            load_rnnlm04b(ws.path("fuzz.out"))
