"""Writes rnnlm-0.4b model files, text or ``-binary`` (the layout: ``layout.py``), atomically.

The header and vocabulary are what rnnlm-0.4b's own writer prints. Text weights are written
with as many digits as float32 needs to read back exactly (rnnlm-0.4b writes 4 decimals, 2 for
the direct connections, and loses the rest; its reader takes any number), so a model goes
through the text format and back unchanged."""

from __future__ import annotations

from typing import IO

import numpy as np

from .._files import PathLike, atomic_write
from .layout import HEADER, INFO_DEFAULTS, SECTIONS, VERSION, Rnnlm04bFile

_CHUNK = 1 << 20  # numbers formatted at a time


def write_file(content: Rnnlm04bFile, path: PathLike, binary: bool = False) -> None:
    """Write ``content`` to ``path`` in rnnlm-0.4b's text format, or its binary one."""
    with atomic_write(path, "wb") as f:
        f.write(header_text(content, binary).encode("utf-8"))
        if binary:
            for a in (content.hidden_state, content.syn0, content.syn1, content.direct):
                f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
            return
        blank = {SECTIONS[0]: "\n", SECTIONS[1]: "\n", SECTIONS[2]: "\n\n", SECTIONS[3]: "\n"}
        for title, a in zip(SECTIONS, (content.hidden_state, content.syn0, content.syn1, content.direct)):
            f.write(f"{blank[title]}{title}\n".encode("ascii"))
            _write_numbers(f, np.asarray(a, dtype=np.float32).ravel())


def header_text(c: Rnnlm04bFile, binary: bool) -> str:
    """The header and vocabulary lines, up to the weights."""
    V, H, C, D = c.vocab_size, c.hidden, c.n_classes, c.direct_size
    computed = {
        "version": VERSION, "file format": int(binary), "input layer size": V + H, "hidden layer size": H,
        "compression layer size": 0, "output layer size": V + C, "direct connections": D,
        "vocabulary size": V, "direct_order": c.direct_order, "bptt": c.bptt, "bptt_block": c.bptt_block,
        "n_classes": C, "old_classes": int(c.old_classes), "independent": int(c.independent),
        "starting_lr": f"{c.starting_lr:f}", "lr": f"{c.lr:f}", "lr_decrease": int(c.lr_decrease),
    }
    lines = []
    for key, attr in HEADER:
        if not key:
            lines.append("")
        elif attr is not None:
            lines.append(f"{key}: {computed[attr]}")
        elif key in computed:
            lines.append(f"{key}: {computed[key]}")
        else:
            lines.append(f"{key}: {c.info.get(key, INFO_DEFAULTS[key])}")
    lines.append("Vocabulary:")
    lines += [f"{i:6d}\t{int(n):10d}\t{w}\t{int(k)}" for i, (w, n, k) in enumerate(zip(c.words, c.counts,
                                                                                          c.word_class))]
    return "\n".join(lines) + "\n"


def _write_numbers(f: IO[bytes], values: np.ndarray) -> None:
    """One number per line, each reading back (as a double rounded to float) to its float32."""
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        text = chunk.astype(str)  # the shortest decimal that rounds to the float32
        back = text.astype(np.float64).astype(np.float32)
        out = text.tolist()
        for k in np.flatnonzero(back != chunk):  # a double-rounding case: the double's digits are exact
            out[k] = repr(float(chunk[k]))
        f.write(("\n".join(out) + "\n").encode("ascii"))
