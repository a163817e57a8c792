"""SRILM n-best lists (nbest-format(5)): ``NBestList1.0``, ``NBestList2.0`` and the plain
``ascore lscore nwords words`` format, one utterance per file.

The Decipher styles hold integer bytelogs (SRILM Prob.h: ``bytelog = rint(ln(p) *
10000.5 / 1024)``, log base 1.0001 shifted by 10 bits), so writing them rounds scores to
that grid; the plain style is log10 at full precision.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rnnlm_fast.units import LN10

from ._io import check_text, check_utt_id, error, fmt_float, lines, parse_float
from .lists import AM, LM, Hypothesis, NbestList

__all__ = ["SrilmStyle", "bytelog_to_ln", "ln_to_bytelog", "read_srilm_nbest", "write_srilm_nbest"]

SrilmStyle = Literal["NBestList1.0", "NBestList2.0", "plain"]
NBEST1 = "NBestList1.0"
NBEST2 = "NBestList2.0"
DECIPHER_SCORE = re.compile(r"^\((-?\d+)\)$")
_BYTELOG_PER_NAT = 10000.5 / 1024.0


def bytelog_to_ln(bytelog: float) -> float:
    """Convert an SRILM/Decipher bytelog score to a natural log."""
    return bytelog / _BYTELOG_PER_NAT


def ln_to_bytelog(ln: float) -> int:
    """Convert a natural log to the nearest integer bytelog (as SRILM does)."""
    return round(ln * _BYTELOG_PER_NAT)


def looks_like_srilm(first_line: str) -> bool:
    """Whether a file's first line is an SRILM header, ``(bytelog) ...`` or ``float float int ...``."""
    parts = first_line.split()
    if parts and (parts[0] in (NBEST1, NBEST2) or DECIPHER_SCORE.match(parts[0])):
        return True
    if len(parts) >= 3 and parts[2].isdigit():
        try:
            float(parts[0]), float(parts[1])
            return True
        except ValueError:
            pass
    return False


def _utt_id(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return Path(name).stem


def _parse_decipher_score(token: str, path: Path, lineno: int) -> int:
    m = DECIPHER_SCORE.match(token)
    if m is None:
        raise error(path, lineno, f"expected a bytelog score '(<integer>)' but found {token!r}")
    return int(m.group(1))


def _parse_nbest1(parts: list[str], path: Path, lineno: int) -> tuple[str, dict[str, float]]:
    score = _parse_decipher_score(parts[0], path, lineno)
    return " ".join(parts[1:]), {AM: bytelog_to_ln(score)}


def _parse_nbest2(parts: list[str], path: Path, lineno: int) -> tuple[str, dict[str, float]]:
    """``(score) w ( st: S et: E g: G a: A ) ...``: words with times and bytelog scores.

    As SRILM does, tokens starting before the previous word ends are phones or
    states and are skipped; ``"lm"`` is the sum of the ``g:`` scores and ``"am"``
    is the total minus that sum, so the total is kept exactly.
    """
    total = _parse_decipher_score(parts[0], path, lineno)
    fields = parts[1:]
    if len(fields) % 11:
        raise error(
            path,
            lineno,
            "expected '(score)' then 11 fields per word: "
            f"'w ( st: S et: E g: G a: A )' but found {len(fields)} fields",
        )
    words: list[str] = []
    lm = 0
    prev_end = -math.inf
    for i in range(0, len(fields), 11):
        tok = fields[i : i + 11]
        if (
            tok[1] != "("
            or tok[2] != "st:"
            or tok[4] != "et:"
            or tok[6] != "g:"
            or tok[8] != "a:"
            or tok[10] != ")"
        ):
            raise error(
                path,
                lineno,
                f"word {i // 11 + 1}: expected 'w ( st: S et: E g: G a: A )' but found {' '.join(tok)!r}",
            )
        start = parse_float(tok[3], path, lineno, "a start time")
        end = parse_float(tok[5], path, lineno, "an end time")
        for j in (7, 9):
            if not re.fullmatch(r"-?\d+", tok[j]):
                raise error(path, lineno, f"expected an integer bytelog but found {tok[j]!r}")
        if start > prev_end:
            words.append(tok[0])
            lm += int(tok[7])
            prev_end = end
    return " ".join(words), {AM: bytelog_to_ln(total - lm), LM: bytelog_to_ln(lm)}


def _parse_plain(parts: list[str], path: Path, lineno: int) -> tuple[str, dict[str, float]]:
    if len(parts) < 3:
        raise error(
            path, lineno, f"expected '<ascore> <lscore> <nwords> <words>' but found {' '.join(parts)!r}"
        )
    ascore = parse_float(parts[0], path, lineno, "an acoustic log10 score")
    lscore = parse_float(parts[1], path, lineno, "an LM log10 score")
    if not parts[2].isdigit():
        raise error(path, lineno, f"expected a word count but found {parts[2]!r}")
    return " ".join(parts[3:]), {AM: ascore * LN10, LM: lscore * LN10}


def _read_file(path: Path) -> NbestList:
    nbest = NbestList(_utt_id(path))
    parser = None
    for lineno, line in lines(path):
        parts = line.split()
        if lineno == 1 and parts and parts[0] in (NBEST1, NBEST2):
            parser = _parse_nbest1 if parts[0] == NBEST1 else _parse_nbest2
            continue
        if not parts:
            raise error(path, lineno, "expected a hypothesis but found an empty line")
        if parts[0] in (NBEST1, NBEST2):
            raise error(path, lineno, f"header {parts[0]} is only allowed on line 1")
        if parser is None:
            # No header: SRILM's own format, as SRILM decides per file.
            parser = _parse_plain
        text, scores = parser(parts, path, lineno)
        nbest.hyps.append(Hypothesis(text, scores, len(nbest.hyps) + 1))
    return nbest


def read_srilm_nbest(path: str | Path) -> list[NbestList]:
    """Read SRILM n-best lists (nbest-format(5)): one file, or a directory of them.

    Each file holds one utterance, whose id is the file stem (a ``.gz`` suffix is
    removed first and the file decompressed). The style is chosen per file:

    - ``NBestList1.0`` header: ``(bytelog) w1 w2 ...``; the composite score -> ``"am"``.
    - ``NBestList2.0`` header: ``(bytelog) w1 ( st: S et: E g: G a: A ) ...``;
      ``"lm"`` = sum of g, ``"am"`` = total - lm.
    - no header: ``ascore lscore nwords w1 ...`` in log10 -> ``"am"``, ``"lm"``.

    Bytelogs are converted with SRILM's ``ln(p) = bytelog * 1024 / 10000.5``.

    Raises
    ------
    MissingFileError
        If the path does not exist.
    NbestFormatError
        On a malformed line or a directory without n-best files.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise error(path, None, "no SRILM n-best files in directory")
        lists = [_read_file(p) for p in files]
        seen: dict[str, Path] = {}
        for p, nbest in zip(files, lists):
            if nbest.utt_id in seen:
                raise error(p, None, f"utterance id {nbest.utt_id!r} also from {seen[nbest.utt_id]}")
            seen[nbest.utt_id] = p
        return lists
    return [_read_file(path)]


def write_srilm_nbest(
    directory: str | Path, lists: Sequence[NbestList], style: SrilmStyle = "plain"
) -> list[Path]:
    """Write one SRILM n-best file per utterance, ``<directory>/<utt-id>.nbest``.

    Parameters
    ----------
    directory : str or Path
        Output directory, created if needed.
    lists : sequence of NbestList
        The lists; hypotheses are written in rank order.
    style : {"plain", "NBestList1.0", "NBestList2.0"}
        ``"plain"`` writes ``ascore lscore nwords words`` in log10 at full precision
        (lossless). The Decipher styles write integer bytelogs, so scores are rounded to
        the bytelog grid (steps of 1024/10000.5 = 0.1024 nats), exactly as SRILM does.
        ``NBestList1.0`` writes ``am + lm``; ``NBestList2.0`` puts both scores on the
        first word with synthetic 10 ms word times (no times are kept in memory).

    Returns
    -------
    list[Path]
        The files written, in list order.

    Raises
    ------
    ValueError
        On an unknown style, an utterance id that cannot be a file name, a text with a
        newline, or an LM score on an empty NBestList2.0 hypothesis.
    """
    if style not in ("plain", NBEST1, NBEST2):
        raise ValueError(f"unknown SRILM style {style!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for nbest in lists:
        check_utt_id(nbest.utt_id)
        if "/" in nbest.utt_id:
            raise ValueError(f"utterance id {nbest.utt_id!r} cannot be a file name")
        out = directory / f"{nbest.utt_id}.nbest"
        with open(out, "w", encoding="utf-8") as f:
            if style != "plain":
                f.write(style + "\n")
            for hyp in nbest.ranked():
                check_text(hyp.text, nbest.utt_id)
                f.write(_line(hyp, style, nbest.utt_id) + "\n")
        written.append(out)
    return written


def _line(hyp: Hypothesis, style: SrilmStyle, utt_id: str) -> str:
    am, lm = hyp.scores.get(AM, 0.0), hyp.scores.get(LM, 0.0)
    words = hyp.words
    if style == "plain":
        head = f"{fmt_float(am / LN10)} {fmt_float(lm / LN10)} {len(words)}"
        return " ".join([head, *words])
    if style == NBEST1:
        return " ".join([f"({ln_to_bytelog(am + lm)})", *words])
    if not words and lm != 0.0:
        raise ValueError(f"{utt_id}: NBestList2.0 cannot hold an LM score for an empty hypothesis")
    g, a = ln_to_bytelog(lm), ln_to_bytelog(am)
    tokens = [f"({g + a})"]
    for i, w in enumerate(words):
        wg, wa = (g, a) if i == 0 else (0, 0)
        tokens.append(f"{w} ( st: {i / 100:.2f} et: {i / 100:.2f} g: {wg} a: {wa} )")
    return " ".join(tokens)
