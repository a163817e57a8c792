"""The single-file model format: vocabulary, classes, options and weights.

Layout (all integers little-endian)::

    magic        8 bytes   b"\\x89RNNLMF\\n"  (the high byte catches text-mode copies)
    version      uint32    the oldest format version that reads the file correctly: 1, 2 for
                           a backward model (a version-1 reader would score it left to right),
                           3 for a model with an embedding layer (older readers lack input_w)
    header_size  uint32    bytes of the JSON header that follows
    header_crc   uint32    CRC-32 of those bytes
    header       JSON      config, history, and a table of sections
    sections               each 64-byte aligned: name, dtype, shape, offset, size, crc32

Loading checks every size against the file length before allocating anything, then the
CRC-32 of each section, so a truncated or corrupted file is reported, never half-loaded.
Files are written to a temporary file and renamed.

What an RNNLM file holds (written by ``RNNLM.file_content``, read by
``RNNLM.from_file_content``)::

    header  "format"         "rnnlm-fast"
            "config"         vocab_size, hidden, classes, cell, direct (table size, 0 = none),
                             direct_order, seed, direction ("forward" / "backward"), and
                             direct_hash only when it is not "splitmix" (older files lack it)
            "train_options"  the options that shaped the weights (rnnlm_fast/options.py, groups
                             "training" and "schedule"), keyed by their stored names: L2 is
                             stored as "beta" (rnnlm-0.4b's name, which every version reads)
            "history"        one object per epoch (rnnlm_fast.training.EpochRecord)
            "checkpoint"     only in checkpoints (rnnlm_fast/checkpoint.py): schedule state,
                             rollbacks, every training option, data fingerprints, has_good
    sections  vocab.words (uint8: the words joined by newlines), vocab.counts (int64),
              vocab.word_class (int32), weights.<name> (float32, shapes from
              _core.weight_shapes), and in checkpoints checkpoint.good.<name> (the last good
              weights, where they differ from the current ones)
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._files import PathLike, atomic_write, require_file
from .errors import FormatVersionError, ModelFormatError

MAGIC = b"\x89RNNLMF\n"
FORMAT_VERSION = 3  # the newest version this module reads
_PRELUDE = struct.Struct("<8sIII")
_ALIGN = 64
_DTYPES = {"<f4": np.float32, "<i4": np.int32, "<i8": np.int64, "|u1": np.uint8}
_MAX_HEADER = 64 << 20
# Versions above this are not "newer": they are bit flips in the (unchecksummed) prelude.
MAX_PLAUSIBLE_VERSION = 1000

def describe_foreign(head: bytes) -> str:
    """What a file that starts with ``head`` looks like, for messages ("a gzip file", ...)."""
    if head.startswith(b"\x1f\x8b"):
        return "a gzip file"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if head.startswith(b"version:") or head.startswith(b"version: "):
        return ("an rnnlm-0.4b model (convert it: rnnlm-fast convert MODEL --output NEW.rnnlm, or load it "
                "with rnnlm_fast.rnnlm04b.load_rnnlm04b)")
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file"
    for cut in range(4):  # the prelude-sized head may end inside a multi-byte character
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text and all(c.isprintable() or c.isspace() for c in text):
            return "a text file"
        break
    return "an unknown binary format"


def write_model(path: PathLike, header: dict[str, Any], arrays: dict[str, np.ndarray],
                version: int = 1) -> None:
    """Write ``header`` (JSON-able) and named arrays atomically to ``path``.

    ``version`` is the oldest format version whose readers understand the content; pass 2
    when an older reader would silently misread it.
    """
    if not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"cannot write model format version {version}")
    sections = []
    offset = 0
    blobs = []
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = a.astype(dtype, copy=False)
        key = a.dtype.str
        if key not in _DTYPES:
            raise TypeError(f"cannot store {name} with dtype {a.dtype}")
        data = memoryview(a).cast("B")
        sections.append({"name": name, "dtype": key, "shape": list(a.shape), "offset": offset,
                         "size": data.nbytes, "crc32": zlib.crc32(data)})
        blobs.append(data)
        offset += -(-data.nbytes // _ALIGN) * _ALIGN
    # Section offsets are relative to the first aligned byte after the header.
    full = dict(header, sections=sections)
    head = json.dumps(full, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    start = -(-(_PRELUDE.size + len(head)) // _ALIGN) * _ALIGN
    with atomic_write(path, "wb") as f:
        f.write(_PRELUDE.pack(MAGIC, version, len(head), zlib.crc32(head)))
        f.write(head)
        f.write(b"\0" * (start - _PRELUDE.size - len(head)))
        for s, data in zip(sections, blobs):
            f.write(data)
            f.write(b"\0" * (-(-s["size"] // _ALIGN) * _ALIGN - s["size"]))


def read_header(path: PathLike) -> dict[str, Any]:
    """Read and validate only a model file's JSON header (config, options, history): cheap
    even for a multi-gigabyte model. Raises as :func:`read_model` does for the prelude and header."""
    p = require_file(path, "model file")
    with open(p, "rb") as f:
        header, _ = _read_header(f, p, p.stat().st_size)
    return header


def read_model(path: PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and fully validate a model file; return (header, arrays).

    Raises
    ------
    MissingFileError
        The file does not exist.
    FormatVersionError
        The file was written by a newer format version.
    ModelFormatError
        Anything else: foreign file, truncation, a checksum mismatch, inconsistent sizes.
    """
    p = require_file(path, "model file")
    file_size = p.stat().st_size
    with open(p, "rb") as f:
        header, head_size = _read_header(f, p, file_size)
        start = -(-(_PRELUDE.size + head_size) // _ALIGN) * _ALIGN
        entries = [_section_entry(p, i, s) for i, s in enumerate(header["sections"])]
        # The layout is fully declared: sections follow the header in table order, each
        # 64-byte aligned, and the file ends with the last one's padding.
        end = 0
        for name, _, _, offset, size, _ in entries:
            if offset != end:
                raise ModelFormatError(f"{p}: section {name!r} declared at offset {offset} "
                                       f"(byte {start + offset}), expected {end}: "
                                       "the section table is corrupt")
            end += -(-size // _ALIGN) * _ALIGN
        arrays: dict[str, np.ndarray] = {}
        for entry in entries:
            name, arr = _read_section(f, p, entry, start, file_size)
            if name in arrays:
                raise ModelFormatError(f"{p}: section {name!r} appears twice")
            arrays[name] = arr
        if file_size < start + end:
            raise ModelFormatError(f"{p}: truncated: the last section's padding ends at byte {start + end}, "
                                   f"the file has {file_size} bytes")
        if file_size > start + end:
            raise ModelFormatError(
                f"{p}: {file_size - start - end} unexpected bytes after the last section, from byte offset "
                f"{start + end}: the file is corrupt or has something appended"
            )
    return header, arrays


def _read_header(f: BinaryIO, p: Path, file_size: int) -> tuple[dict[str, Any], int]:
    """The validated header of the open file ``f`` and its size in bytes."""
    prelude = f.read(_PRELUDE.size)
    if len(prelude) < len(MAGIC) or prelude[: len(MAGIC)] != MAGIC:
        if len(prelude) == 0:
            raise ModelFormatError(f"{p}: the file is empty, not an rnnlm-fast model")
        if MAGIC.startswith(prelude):
            raise ModelFormatError(
                f"{p}: truncated: {file_size} bytes, shorter than the {_PRELUDE.size}-byte prelude"
            )
        raise ModelFormatError(f"{p}: not an rnnlm-fast model: this looks like {describe_foreign(prelude)}")
    if len(prelude) < _PRELUDE.size:
        raise ModelFormatError(f"{p}: truncated: {file_size} bytes, shorter than the "
                               f"{_PRELUDE.size}-byte prelude")
    _, version, head_size, head_crc = _PRELUDE.unpack(prelude)
    if version > MAX_PLAUSIBLE_VERSION:
        raise ModelFormatError(
            f"{p}: implausible format version {version} at byte 8: the file is corrupt"
        )
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"{p}: written by model format version {version}; this rnnlm-fast reads versions up to "
            f"{FORMAT_VERSION} (upgrade rnnlm-fast)"
        )
    if version < 1:
        raise ModelFormatError(f"{p}: invalid format version {version}")
    if head_size > _MAX_HEADER or _PRELUDE.size + head_size > file_size:
        raise ModelFormatError(
            f"{p}: truncated or corrupt: header of {head_size} bytes at byte {_PRELUDE.size} "
            f"does not fit in the file's {file_size} bytes"
        )
    head = f.read(head_size)
    if zlib.crc32(head) != head_crc:
        raise ModelFormatError(f"{p}: header checksum mismatch at bytes "
                               f"{_PRELUDE.size}..{_PRELUDE.size + head_size}: the file is corrupted")
    try:
        header = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{p}: unreadable header: {e}") from None
    if not isinstance(header, dict) or not isinstance(header.get("sections"), list):
        raise ModelFormatError(f"{p}: header has no section table")
    _check_header(p, header)
    return header, head_size


_SCALARS = (bool, int, float, str, type(None))
_CONFIG_INTS = ("vocab_size", "hidden", "classes", "seed", "direct", "direct_order")
_CONFIG_STRS = ("cell", "activation", "direction", "direct_hash")
# The fields of a history record (rnnlm_fast.training.EpochRecord; tests/test_model_file.py
# checks the two agree) and their JSON types: an int is a valid float, a bool is no number.
HISTORY_FIELDS = {"epoch": int, "lr": float, "train_entropy": float, "train_ppl": float,
                  "valid_entropy": float, "valid_ppl": float, "words_per_sec": float, "seconds": float,
                  "kept": bool, "diverged": bool}
_U64 = 1 << 64


def _is_int(v: Any, limit: int = _U64) -> bool:
    """A JSON integer (not a bool) in [0, limit)."""
    return type(v) is int and 0 <= v < limit


def _json_typed(v: Any, kind: type) -> bool:
    if kind is float:
        return type(v) in (int, float)
    return type(v) is kind


def _check_header(p: Path, header: dict[str, Any]) -> None:
    """The types and ranges of the JSON header's well-known keys, so that loaders can trust them.

    ``config`` is a dict whose sizes are plain integers in range and whose names are strings;
    ``train_options`` is a dict of scalars; ``history`` is a list of dicts whose known fields
    have their types; ``sections`` is a list of dicts (checked by :func:`_section_entry`).
    Unknown keys are allowed (newer writers add options).
    """
    cfg = header.get("config")
    if cfg is not None:
        if not isinstance(cfg, dict):
            raise ModelFormatError(f"{p}: header 'config' is a {type(cfg).__name__}, expected an object")
        for key in _CONFIG_INTS:
            v = cfg.get(key)
            if v is not None and not _is_int(v):
                raise ModelFormatError(f"{p}: header config {key!r} is {_short(v)}, "
                                       "expected a non-negative integer")
        for key in _CONFIG_STRS:
            v = cfg.get(key)
            if v is not None and not isinstance(v, str):
                raise ModelFormatError(f"{p}: header config {key!r} is {_short(v)}, expected a string")
    opts = header.get("train_options")
    if opts is not None and (not isinstance(opts, dict)
                             or not all(isinstance(v, _SCALARS) for v in opts.values())):
        raise ModelFormatError(f"{p}: header 'train_options' is not an object of plain values")
    state = header.get("checkpoint")  # its fields: rnnlm_fast/checkpoint.py
    if state is not None and not isinstance(state, dict):
        raise ModelFormatError(f"{p}: header 'checkpoint' is {_short(state)}, expected an object")
    if state is not None and state.get("options") is not None and (
            not isinstance(state["options"], dict)
            or not all(isinstance(v, _SCALARS) for v in state["options"].values())):
        raise ModelFormatError(f"{p}: header checkpoint 'options' is not an object of plain values")
    hist = header.get("history")
    if hist is not None:
        if not isinstance(hist, list):
            raise ModelFormatError(f"{p}: header 'history' is a {type(hist).__name__}, expected a list")
        for i, r in enumerate(hist):
            if not isinstance(r, dict) or not all(isinstance(v, _SCALARS) for v in r.values()):
                raise ModelFormatError(f"{p}: header history record {i} is not an object of plain values")
            for key, kind in HISTORY_FIELDS.items():
                if key in r and not _json_typed(r[key], kind):
                    raise ModelFormatError(
                        f"{p}: header history record {i}: {key!r} is {_short(r[key])}, "
                        f"expected {'a number' if kind is float else 'an ' + kind.__name__}")
            if "epoch" in r and r["epoch"] < 0:
                raise ModelFormatError(f"{p}: header history record {i}: negative epoch {r['epoch']}")


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _section_entry(p: Path, i: int, s: Any) -> tuple[str, str, list[int], int, int, int]:
    """Entry ``i`` of the section table, every field of its type and in range:
    (name, dtype, shape, offset, size, crc32)."""
    if not isinstance(s, dict):
        raise ModelFormatError(f"{p}: section entry {i} is {_short(s)}, expected an object")
    missing = [k for k in ("name", "dtype", "shape", "offset", "size", "crc32") if k not in s]
    if missing:
        raise ModelFormatError(f"{p}: section entry {i} lacks {', '.join(missing)}")
    name, key, shape = s["name"], s["dtype"], s["shape"]
    if not isinstance(name, str) or not name:
        raise ModelFormatError(f"{p}: section entry {i} has name {_short(name)}, expected a non-empty string")
    if not isinstance(key, str) or key not in _DTYPES:
        raise ModelFormatError(f"{p}: section {name!r} has dtype {_short(key)}, "
                               f"expected one of {sorted(_DTYPES)}")
    if not isinstance(shape, list) or len(shape) > 8 or not all(_is_int(d, 1 << 63) for d in shape):
        raise ModelFormatError(f"{p}: section {name!r} has shape {_short(shape)}, "
                               "expected a list of at most 8 non-negative integers")
    for field, limit in (("offset", 1 << 63), ("size", 1 << 63), ("crc32", 1 << 32)):
        if not _is_int(s[field], limit):
            raise ModelFormatError(f"{p}: section {name!r} has {field} {_short(s[field])}, "
                                   f"expected an integer in [0, {limit})")
    return name, key, shape, s["offset"], s["size"], s["crc32"]


def _read_section(f, p: Path, entry: tuple[str, str, list[int], int, int, int], start: int,
                  file_size: int) -> tuple[str, np.ndarray]:
    name, key, shape, offset, size, crc = entry
    itemsize = np.dtype(_DTYPES[key]).itemsize
    expected = itemsize
    for d in shape:  # Python integers: no overflow (np.prod wraps around at 2**63)
        expected *= d
    if expected != size:
        raise ModelFormatError(f"{p}: section {name!r} declares {size} bytes but shape {shape} "
                               f"needs {expected}")
    if start + offset + size > file_size:
        raise ModelFormatError(
            f"{p}: truncated: section {name!r} needs bytes {start + offset}..{start + offset + size} "
            f"but the file has {file_size}"
        )
    f.seek(start + offset)
    data = f.read(size)
    if len(data) != size:
        raise ModelFormatError(f"{p}: truncated while reading section {name!r}")
    if zlib.crc32(data) != crc:
        raise ModelFormatError(
            f"{p}: checksum mismatch in section {name!r} (bytes {start + offset}..{start + offset + size}): "
            "the file is corrupted"
        )
    arr = np.frombuffer(data, dtype=_DTYPES[key]).reshape(shape).copy()
    return name, arr
