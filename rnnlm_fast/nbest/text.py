"""Kaldi-style ``text`` files, ``<utt-id> <words>`` per line: references and 1-best outputs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ._io import check_text, check_utt_id, id_line, read_keyed

__all__ = ["read_text", "write_text"]


def read_text(path: str | Path, what: str = "text file") -> dict[str, str]:
    """Read a Kaldi-style ``text`` file: ``<utt-id> <words ...>`` per line.

    Parameters
    ----------
    path : str or Path
        The file (e.g. reference transcripts). A line with only an id is an empty text.
    what : str
        What the file is called if it is missing (e.g. ``"references file (--refs)"``).

    Returns
    -------
    dict[str, str]
        Utterance id -> words joined by single spaces, in file order.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    NbestFormatError
        On a blank line, invalid UTF-8 or a repeated utterance id.
    """
    return {utt: words for utt, (words, _) in read_text_lines(Path(path), what).items()}


def read_text_lines(path: Path, what: str = "text file") -> dict[str, tuple[str, int]]:
    """``read_text`` with each text's line number: utterance id -> (words, line)."""
    return read_keyed(
        path, "'<utt-id> <words>'", lambda utt, words, lineno: words, key_name="utterance", what=what
    )


def write_text(path: str | Path, texts: Mapping[str, str]) -> None:
    """Write ``<utt-id> <words>`` lines (e.g. a 1-best output), in mapping order.

    Raises
    ------
    ValueError
        If an utterance id is empty or has whitespace, or a text has a newline.
    """
    with open(path, "w", encoding="utf-8") as f:
        for utt, text in texts.items():
            check_utt_id(utt)
            check_text(text, utt)
            f.write(id_line(utt, text))
