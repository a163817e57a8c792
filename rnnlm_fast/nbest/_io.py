"""What every n-best reader and writer shares: THE line reader, ``<key> <value>`` files,
errors that name the file and line, number parsing, text checks and the list builder."""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from rnnlm_fast._files import require_file
from rnnlm_fast.errors import MissingFileError, NbestFormatError

from .lists import Hypothesis, NbestList

T = TypeVar("T")


def error(path: Path | str, lineno: int | None, msg: str) -> NbestFormatError:
    """An NbestFormatError whose message starts ``path:line:`` (or ``path:``)."""
    where = f"{path}:{lineno}" if lineno is not None else f"{path}"
    return NbestFormatError(f"{where}: {msg}")


def shorten(line: str, limit: int = 60) -> str:
    """``repr`` of ``line``, cut to ``limit`` characters, for error messages."""
    return repr(line if len(line) <= limit else line[:limit] + "...")


def require_dir(path: Path) -> None:
    """Raise MissingFileError unless ``path`` is a directory."""
    if not path.is_dir():
        what = "is a file, not a directory" if path.exists() else "does not exist"
        raise MissingFileError(f"{path}: n-best directory {what}")


def lines(path: Path, what: str = "n-best file") -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, line without newline)``, decoding UTF-8 strictly.

    A ``.gz`` file is decompressed. Decoding line by line lets a bad byte be reported
    with its line number.

    Raises
    ------
    MissingFileError
        If ``path`` is not a file (``what`` names it in the message).
    NbestFormatError
        On invalid UTF-8 or a read error (e.g. a truncated gzip stream).
    """
    require_file(path, what)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8", errors="strict")
                except UnicodeDecodeError as e:
                    raise error(path, lineno, f"invalid UTF-8 at byte {e.start} of the line") from None
                yield lineno, line.rstrip("\r\n")
    except (OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise MissingFileError(f"{path}: cannot open: {e.strerror}") from None
        raise error(path, None, f"cannot read: {e}") from None


def read_keyed(
    path: Path,
    expected: str,
    parse: Callable[[str, str, int], T],
    *,
    value: Literal["words", "rest", "token"] = "words",
    key_name: str = "key",
    what: str = "n-best file",
) -> dict[str, tuple[T, int]]:
    """Read ``<key> <value>`` lines: key -> (``parse(key, value, lineno)``, line number).

    Parameters
    ----------
    path : Path
        The file.
    expected : str
        The line's shape for error messages, e.g. ``"'<utt-id> <words>'"``.
    parse : callable
        Checks the key and converts the value; raises NbestFormatError.
    value : {"words", "rest", "token"}
        ``"words"``: any number of words, joined by single spaces (none is an empty
        text); ``"rest"``: the rest of the line, required; ``"token"``: exactly one token.
    key_name : str
        What a key is called in the repeated-key message.
    what : str
        What the file is called if it is missing.

    Raises
    ------
    NbestFormatError
        On a line of the wrong shape or a repeated key (naming its first line).
    """
    out: dict[str, tuple[T, int]] = {}
    for lineno, line in lines(path, what):
        parts = line.split() if value == "token" else line.split(maxsplit=1)
        if not parts or (value != "words" and len(parts) != 2):
            raise error(path, lineno, f"expected {expected} but found {shorten(line)}")
        key = parts[0]
        if key in out:
            raise error(path, lineno, f"{key_name} {key!r} repeated (first at line {out[key][1]})")
        rest = parts[1] if len(parts) > 1 else ""
        rest = " ".join(rest.split()) if value == "words" else rest.strip()
        out[key] = (parse(key, rest, lineno), lineno)
    return out


def check_same_keys(
    ref_path: Path, ref: dict[str, tuple[object, int]], path: Path, table: dict[str, tuple[object, int]]
) -> None:
    """Raise NbestFormatError unless ``table`` (read from ``path``) has exactly ``ref``'s keys."""
    for key, (_, lineno) in table.items():
        if key not in ref:
            raise error(path, lineno, f"key {key!r} is not in {ref_path}")
    missing = [k for k in ref if k not in table]
    if missing:
        lineno = ref[missing[0]][1]
        raise error(
            path,
            None,
            f"{len(missing)} key(s) of {ref_path} missing, first {missing[0]!r} ({ref_path}:{lineno})",
        )


def parse_float(token: str, path: Path, lineno: int, what: str) -> float:
    """``float(token)``, or NbestFormatError naming ``what`` (NaN is refused)."""
    try:
        value = float(token)
    except ValueError:
        raise error(path, lineno, f"expected {what} (a number) but found {token!r}") from None
    if math.isnan(value):
        raise error(path, lineno, f"expected {what} (a number) but found NaN")
    return value


def check_text(text: str, utt_id: str, *, tab_ok: bool = True) -> None:
    """Raise ValueError if a hypothesis cannot be written on one line (or field)."""
    if "\n" in text or "\r" in text or (not tab_ok and "\t" in text):
        raise ValueError(f"hypothesis of {utt_id!r} contains a newline or tab: {text!r}")


def check_utt_id(utt_id: str) -> None:
    """Raise ValueError unless ``utt_id`` is non-empty without whitespace."""
    if not utt_id or any(c.isspace() for c in utt_id):
        raise ValueError(f"utterance id must be non-empty without whitespace: {utt_id!r}")


def fmt_float(x: float) -> str:
    """17 significant digits: a repr-exact round trip for float64."""
    return repr(float(x))


def id_line(utt_id: str, text: str) -> str:
    """``<id> <words>`` or, for an empty text, ``<id>``, with a newline."""
    return f"{utt_id} {text}\n" if text else f"{utt_id}\n"


class ListBuilder:
    """Groups hypotheses by utterance, keeping first-appearance order."""

    def __init__(self) -> None:
        self.lists: dict[str, NbestList] = {}

    def add(self, utt_id: str, hyp: Hypothesis) -> None:
        nbest = self.lists.get(utt_id)
        if nbest is None:
            nbest = self.lists[utt_id] = NbestList(utt_id)
        nbest.hyps.append(hyp)

    def finish(self) -> list[NbestList]:
        """The lists in first-appearance order, each sorted by rank."""
        for nbest in self.lists.values():
            nbest.hyps.sort(key=lambda h: h.rank)
        return list(self.lists.values())
