"""The plain TSV n-best format: header ``utt_id\\trank\\t<score columns...>\\ttext``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._io import ListBuilder, check_text, check_utt_id, error, fmt_float, lines, parse_float, shorten
from .lists import AM, Hypothesis, NbestList

__all__ = ["read_tsv_nbest", "write_tsv_nbest"]

HEADER_START = "utt_id\trank\t"
_ALIASES = {"espnet_score": AM}  # the flattened ESPnet files in shared/data


def read_tsv_nbest(path: str | Path) -> list[NbestList]:
    """Read the plain TSV: header ``utt_id\\trank\\t<score columns...>\\ttext``.

    Score columns are natural logs, kept under their header names, except that
    ``espnet_score`` is read as ``"am"`` (the flattened ESPnet files use that name).

    Raises
    ------
    MissingFileError
        If the file does not exist.
    NbestFormatError
        On a wrong header, a wrong field count, a bad number or rank, or a repeated
        (utterance, rank).
    """
    path = Path(path)
    numbered = lines(path)
    first = next(numbered, None)
    if first is None:
        raise error(path, 1, "expected a header 'utt_id\\trank\\t...\\ttext' but the file is empty")
    header = first[1].split("\t")
    if len(header) < 3 or header[:2] != ["utt_id", "rank"] or header[-1] != "text":
        raise error(
            path, 1, f"expected a header 'utt_id\\trank\\t<scores...>\\ttext' but found {shorten(first[1])}"
        )
    names = [_ALIASES.get(h, h) for h in header[2:-1]]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise error(path, 1, f"score column names must be unique and non-empty: {header[2:-1]}")
    builder = ListBuilder()
    seen: dict[tuple[str, int], int] = {}
    for lineno, line in numbered:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise error(path, lineno, f"expected {len(header)} tab-separated fields but found {len(fields)}")
        utt = fields[0]
        if not utt or utt != utt.strip():
            raise error(path, lineno, f"expected an utterance id but found {utt!r}")
        if not fields[1].isdigit() or int(fields[1]) < 1:
            raise error(path, lineno, f"expected a rank (integer >= 1) but found {fields[1]!r}")
        rank = int(fields[1])
        if (utt, rank) in seen:
            raise error(path, lineno, f"rank {rank} of {utt!r} repeated (first at line {seen[utt, rank]})")
        seen[utt, rank] = lineno
        scores = {n: parse_float(v, path, lineno, f"score {n!r}") for n, v in zip(names, fields[2:-1])}
        builder.add(utt, Hypothesis(" ".join(fields[-1].split()), scores, rank))
    return builder.finish()


def write_tsv_nbest(
    path: str | Path, lists: Sequence[NbestList], score_names: Sequence[str] | None = None
) -> None:
    """Write the plain TSV (header ``utt_id\\trank\\t<scores...>\\ttext``).

    Parameters
    ----------
    path : str or Path
        Output file.
    lists : sequence of NbestList
        The lists; hypotheses are written in rank order.
    score_names : sequence of str, optional
        Columns to write, in order. Default: every score name, in first-seen order.
        Every hypothesis must have every column.

    Raises
    ------
    ValueError
        On an invalid column name, a missing score, an utterance id that is empty or
        has whitespace, or a text with a newline or tab.
    """
    if score_names is None:
        score_names = list(dict.fromkeys(k for n in lists for h in n.hyps for k in h.scores))
    for name in score_names:
        if not name or any(c in name for c in "\t\r\n") or name in ("utt_id", "rank", "text"):
            raise ValueError(f"invalid score column name {name!r}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(["utt_id", "rank", *score_names, "text"]) + "\n")
        for nbest in lists:
            check_utt_id(nbest.utt_id)
            for hyp in nbest.ranked():
                check_text(hyp.text, nbest.utt_id, tab_ok=False)
                missing = [n for n in score_names if n not in hyp.scores]
                if missing:
                    raise ValueError(f"{nbest.utt_id} rank {hyp.rank}: no score {missing[0]!r}")
                values = [fmt_float(hyp.scores[n]) for n in score_names]
                f.write("\t".join([nbest.utt_id, str(hyp.rank), *values, hyp.text]) + "\n")
