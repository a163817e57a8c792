"""rnnlm-0.4b ``-nbest`` input: ``ID w1 ... wn`` per line, no scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._io import ListBuilder, check_text, check_utt_id, error, id_line, lines, shorten
from .lists import Hypothesis, NbestList

__all__ = ["read_rnnlm_nbest", "write_rnnlm_nbest"]


def read_rnnlm_nbest(path: str | Path) -> list[NbestList]:
    """Read rnnlm-0.4b ``-nbest`` input: ``ID w1 ... wn`` per line, no scores.

    Consecutive lines with the same ID form one list; ranks are 1, 2, ... in file order.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    NbestFormatError
        On a blank line, invalid UTF-8, or an ID that reappears after another ID.
    """
    path = Path(path)
    builder = ListBuilder()
    ended_at: dict[str, int] = {}  # ID -> last line of its (closed) block
    current: str | None = None
    for lineno, line in lines(path):
        parts = line.split(maxsplit=1)
        if not parts:
            raise error(path, lineno, f"expected '<id> <words>' but found {shorten(line)}")
        utt = parts[0]
        if utt != current:
            if utt in ended_at:
                raise error(
                    path,
                    lineno,
                    f"id {utt!r} reappears after its list ended at line {ended_at[utt]};"
                    " hypotheses of one list must be consecutive",
                )
            if current is not None:
                ended_at[current] = lineno - 1
            current = utt
        rank = len(builder.lists[utt].hyps) + 1 if utt in builder.lists else 1
        text = " ".join(parts[1].split()) if len(parts) > 1 else ""
        builder.add(utt, Hypothesis(text, {}, rank))
    return builder.finish()


def write_rnnlm_nbest(path: str | Path, lists: Sequence[NbestList]) -> None:
    """Write rnnlm-0.4b ``-nbest`` input (``ID words`` lines, rank order; scores dropped).

    Raises
    ------
    ValueError
        If an utterance id is empty or has whitespace, or a text has a newline.
    """
    with open(path, "w", encoding="utf-8") as f:
        for nbest in lists:
            check_utt_id(nbest.utt_id)
            for hyp in nbest.ranked():
                check_text(hyp.text, nbest.utt_id)
                f.write(id_line(nbest.utt_id, hyp.text))
