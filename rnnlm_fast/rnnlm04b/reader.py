"""Reads rnnlm-0.4b model files, text and ``-binary`` (the layout: ``layout.py``), fully
validated: every malformed header line, size mismatch, truncation or unsupported structure
is a ModelFormatError naming the file and the line (text) or byte offset (binary). Sizes are
checked against the file's length before anything large is allocated."""

from __future__ import annotations

import re
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Optional

import numpy as np

from .._core import MAX_DIRECT_SIZE, MAX_HIDDEN
from .._files import PathLike, require_file
from ..errors import ModelFormatError
from .layout import HEADER, INFO_DEFAULTS, INT32_MAX, MAX_ORDER, SECTIONS, VERSION, Rnnlm04bFile

MAGIC = b"version:"  # how both formats begin
_MAX_LINE = 1 << 16  # no line of a valid file comes near this
_CHUNK = 1 << 20  # numbers parsed at a time from a text file
_INT = re.compile(r"[+-]?\d+")
_FIELDS = re.compile(rb"[ \t]+")
_KEYS = {key for key, _ in HEADER if key}
_INTS = ("version", "file format", "input layer size", "hidden layer size", "compression layer size",
         "output layer size", "direct connections", "direct order", "bptt", "bptt block", "vocabulary size",
         "class size", "old classes", "independent sentences mode", "learning rate decrease")
_FLOATS = ("starting learning rate", "current learning rate")


def looks_like_rnnlm04b(path: PathLike) -> bool:
    """Whether ``path`` starts as an rnnlm-0.4b model file (text or binary) does."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class _Lines:
    """The lines of a binary file object with their numbers (from 1), for messages."""

    def __init__(self, f: BinaryIO, path: Path):
        self.f, self.path, self.number = f, path, 0

    def error(self, message: str, line: Optional[int] = None) -> ModelFormatError:
        return ModelFormatError(f"{self.path}:{self.number if line is None else line}: {message}")

    def next(self, what: str) -> bytes:
        """The next line without its line end; an error naming ``what`` at the end of the file."""
        raw = self.f.readline(_MAX_LINE)
        if not raw:
            raise ModelFormatError(f"{self.path}: truncated: the file ends after line {self.number}, "
                                   f"before {what}")
        self.number += 1
        if not raw.endswith(b"\n") and len(raw) == _MAX_LINE:
            raise self.error(f"a line of more than {_MAX_LINE} bytes: not an rnnlm-0.4b model")
        return raw.rstrip(b"\r\n")

    def next_nonblank(self, what: str) -> bytes:
        while True:
            line = self.next(what)
            if line.strip():
                return line


def read_file(path: PathLike) -> Rnnlm04bFile:
    """Read an rnnlm-0.4b model file, text or binary (told apart by its ``file format`` line).

    Raises
    ------
    MissingFileError
        The file does not exist.
    ModelFormatError
        Anything else, naming the file and the line or byte offset.
    """
    p = require_file(path, "model file")
    size = p.stat().st_size
    with open(p, "rb") as f:
        lines = _Lines(f, p)
        head = f.read(len(MAGIC))
        if head != MAGIC:
            raise ModelFormatError(f"{p}: not an rnnlm-0.4b model: it does not start with 'version:'")
        f.seek(0)
        values = _read_header(lines)
        V, H, C, D, binary = (values["vocabulary size"], values["hidden layer size"], values["class size"],
                              values["direct connections"], values["file format"] == 1)
        if size - f.tell() < 8 * V:  # an entry is 8 bytes at least ("0<TAB>0<TAB>w<TAB>0<LF>")
            raise ModelFormatError(f"{p}: truncated: {size - f.tell()} bytes after the header "
                                   f"(line {lines.number}) cannot hold the {V} vocabulary entries it "
                                   "declares")
        words, counts, classes, vocab_line = _read_vocabulary(lines, V)
        sizes = {"hidden_state": (H,), "syn0": (H, V + H), "syn1": (V + C, H), "direct": (D,)}
        n_values = sum(int(np.prod(s, dtype=object)) for s in sizes.values())
        start = f.tell()
        if binary:
            arrays = _read_binary(f, p, sizes, start, size)
        else:
            if size - start < 2 * n_values:  # each number takes a digit and a newline at least
                raise ModelFormatError(f"{p}: truncated: {size - start} bytes after the vocabulary (line "
                                       f"{lines.number}) cannot hold the {n_values} numbers the header's "
                                       "sizes need")
            arrays = {name: _read_text_section(lines, title, shape)
                      for (name, shape), title in zip(sizes.items(), SECTIONS)}
            _expect_end(lines)
    info = {key: values[key] for key in INFO_DEFAULTS if key in values}
    return Rnnlm04bFile(words=words, counts=counts, word_class=classes, n_classes=C,
                        direct_order=values["direct order"], old_classes=values["old classes"] != 0,
                        independent=values["independent sentences mode"] != 0, bptt=values["bptt"],
                        bptt_block=values["bptt block"], starting_lr=values["starting learning rate"],
                        lr=values["current learning rate"], lr_decrease=values["learning rate decrease"] != 0,
                        binary=binary, info={k: str(v) for k, v in info.items()}, vocab_line=vocab_line,
                        **arrays)


def _read_header(lines: _Lines) -> dict:
    """The header's values by key (ints and floats parsed), checked for consistency."""
    values: dict = {}
    while True:
        line = lines.next("the 'Vocabulary:' line")
        text = line.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        if text == "Vocabulary:":
            break
        key, colon, value = text.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or key not in _KEYS:
            raise lines.error(f"not an rnnlm-0.4b model header line: {text[:80]!r}")
        if key in values:
            raise lines.error(f"header line {key!r} appears twice")
        if key in _INTS:
            if not _INT.fullmatch(value):
                raise lines.error(f"{key!r} is {value[:40]!r}, expected an integer")
            values[key] = int(value)
        elif key in _FLOATS:
            try:
                values[key] = float(value)
            except ValueError:
                raise lines.error(f"{key!r} is {value[:40]!r}, expected a number") from None
        else:
            values[key] = value
        if key == "version" and values[key] != VERSION:
            raise lines.error(f"model file version {values[key]}; rnnlm-0.4b's (and 0.3e's) is {VERSION}")
    missing = [key for key in _INTS + _FLOATS if key not in values]
    if missing:
        raise lines.error(f"the header lacks {', '.join(repr(k) for k in missing)}")
    _check_sizes(lines, values)
    return values


def _check_sizes(lines: _Lines, v: dict) -> None:
    where = f"{lines.path}: header:"
    V, H, C, D = v["vocabulary size"], v["hidden layer size"], v["class size"], v["direct connections"]
    if v["file format"] not in (0, 1):
        raise ModelFormatError(f"{where} file format {v['file format']}, expected 0 (text) or 1 (binary)")
    if not 1 <= V <= INT32_MAX - 1 or not 1 <= C <= INT32_MAX:
        raise ModelFormatError(f"{where} vocabulary size {V} or class size {C} outside 1..{INT32_MAX - 1}")
    if not 1 <= H <= MAX_HIDDEN:
        raise ModelFormatError(f"{where} hidden layer size {H} outside 1..{MAX_HIDDEN}")
    if v["compression layer size"] != 0:
        raise ModelFormatError(f"{where} unsupported structure: a compression layer of "
                               f"{v['compression layer size']} units (rnnlm-fast has none)")
    if v["input layer size"] != V + H:
        raise ModelFormatError(f"{where} input layer size {v['input layer size']} is not vocabulary size + "
                               f"hidden layer size ({V} + {H})")
    if v["output layer size"] != V + C:
        raise ModelFormatError(f"{where} output layer size {v['output layer size']} is not vocabulary size + "
                               f"class size ({V} + {C})")
    if not 0 <= D <= MAX_DIRECT_SIZE:
        raise ModelFormatError(f"{where} direct connections {D} outside 0..{MAX_DIRECT_SIZE}")
    if not 0 <= v["direct order"] <= MAX_ORDER:
        raise ModelFormatError(f"{where} direct order {v['direct order']} outside 0..{MAX_ORDER} "
                               "(rnnlm-0.4b's largest)")


def _read_vocabulary(lines: _Lines, V: int) -> tuple[list[str], np.ndarray, np.ndarray, int]:
    words, counts, classes = [], np.empty(V, dtype=np.int64), np.empty(V, dtype=np.int32)
    first = lines.number + 1
    for i in range(V):
        line = lines.next(f"vocabulary entry {i} of {V}")
        fields = _FIELDS.split(line.strip(b" \t"))
        if len(fields) != 4:
            raise lines.error(f"vocabulary entry {i}: expected 'index count word class', found "
                              f"{line[:80].decode('utf-8', errors='replace')!r}")
        numbers = []
        for name, text in (("index", fields[0]), ("count", fields[1]), ("class", fields[3])):
            if not _INT.fullmatch(text.decode("ascii", errors="replace")):
                raise lines.error(f"vocabulary entry {i}: {name} {text[:40]!r} is not an integer")
            numbers.append(int(text))
        index, count, cls = numbers
        if index != i:
            raise lines.error(f"vocabulary entry {i} is numbered {index}")
        if not 0 <= count <= INT32_MAX or not 0 <= cls <= INT32_MAX:
            raise lines.error(f"vocabulary entry {i}: count {count} or class {cls} outside 0..{INT32_MAX}")
        try:
            word = fields[2].replace(b"\r", b"").decode("utf-8")  # rnnlm-0.4b skips carriage returns
        except UnicodeDecodeError:
            raise lines.error(f"vocabulary entry {i}: the word {fields[2][:40]!r} is not UTF-8") from None
        words.append(word)
        counts[i], classes[i] = count, cls
    return words, counts, classes, first


def _read_binary(f: BinaryIO, p: Path, sizes: dict, start: int, file_size: int) -> dict[str, np.ndarray]:
    """The float32 arrays from byte ``start`` to the end of the file."""
    need = 4 * sum(int(np.prod(s, dtype=object)) for s in sizes.values())
    if file_size - start < need:
        raise ModelFormatError(f"{p}: truncated: the weights need bytes {start}..{start + need} after the "
                               f"vocabulary, the file has {file_size}")
    if file_size - start > need:
        raise ModelFormatError(f"{p}: {file_size - start - need} unexpected bytes after the direct "
                               f"connections, from byte offset {start + need}: not the sizes the header "
                               "declares")
    out, offset = {}, start
    for name, shape in sizes.items():
        n = int(np.prod(shape, dtype=object))
        buf = np.empty(4 * n, dtype=np.uint8)
        if f.readinto(memoryview(buf)) != buf.size:  # the file changed under us
            raise ModelFormatError(f"{p}: truncated while reading {name} at byte offset {offset}")
        a = buf.view("<f4")
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ModelFormatError(f"{p}: byte offset {offset + 4 * int(bad[0])}: weight {a[bad[0]]} "
                                   "is not finite")
        out[name] = a.astype(np.float32, copy=False).reshape(shape)
        offset += 4 * n
    return out


def _read_text_section(lines: _Lines, title: str, shape: tuple) -> np.ndarray:
    """A titled section of one number per line, as float32 (read as double, then rounded to
    float, as rnnlm-0.4b's fscanf("%lf") into float weights does)."""
    line = lines.next_nonblank(f"the section {title!r}")
    if line.strip().decode("utf-8", errors="replace") != title:
        raise lines.error(f"expected the section title {title!r}, found "
                          f"{line[:80].decode('utf-8', errors='replace')!r}")
    n = int(np.prod(shape, dtype=object))
    out = np.empty(n, dtype=np.float32)
    done = 0
    while done < n:
        chunk = list(islice(lines.f, min(_CHUNK, n - done)))
        first = lines.number + 1
        lines.number += len(chunk)
        if len(chunk) < min(_CHUNK, n - done):
            raise ModelFormatError(f"{lines.path}: truncated: the file ends at line {lines.number}, inside "
                                   f"{title!r} after {done + len(chunk)} of its {n} numbers")
        try:
            with np.errstate(over="ignore"):  # a double past float32's range: reported below
                values = np.array(chunk).astype(np.float64).astype(np.float32)
        except ValueError:
            values = None
        if values is None or not np.isfinite(values).all():
            for k, text in enumerate(chunk):  # the first number that does not read, or is not a float's
                if not _finite(text):
                    raise lines.error(f"in {title!r}: expected a finite number, found "
                                      f"{text.strip()[:40].decode('utf-8', errors='replace')!r}", first + k)
            values = np.array([float(text) for text in chunk], dtype=np.float64).astype(np.float32)
        out[done:done + len(chunk)] = values
        done += len(chunk)
    return out.reshape(shape)


def _finite(text: bytes) -> bool:
    """Whether ``text`` reads as a number whose float32 is finite."""
    try:
        with np.errstate(over="ignore"):
            return bool(np.isfinite(np.float32(float(text))))
    except (ValueError, OverflowError):
        return False


def _expect_end(lines: _Lines) -> None:
    for raw in lines.f:
        lines.number += 1
        if raw.strip():
            raise lines.error(f"unexpected content after the direct connections: "
                              f"{raw.strip()[:40].decode('utf-8', errors='replace')!r}")
