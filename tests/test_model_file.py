"""The model container (rnnlm_fast/model_file.py): truncation anywhere, flipped bytes caught by
checksums, format versions, foreign files recognised, and the header read on its own.

Every broken file raises ModelFormatError (or FormatVersionError) naming the path.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import struct
import zlib

import pytest
from helpers import said, same_model

from rnnlm_fast import RNNLM, FormatVersionError, ModelFormatError
from rnnlm_fast.checkpoint import load_checkpoint
from rnnlm_fast.model_file import _PRELUDE, HISTORY_FIELDS, read_header
from rnnlm_fast.training import EpochRecord


def layout(data: bytes) -> dict:
    """Byte ranges of the model file: prelude fields, JSON header, section data and padding."""
    _, _, head_size, _ = _PRELUDE.unpack(data[: _PRELUDE.size])
    header = json.loads(data[_PRELUDE.size:_PRELUDE.size + head_size])
    start = -(-(_PRELUDE.size + head_size) // 64) * 64
    sections = {s["name"]: (start + s["offset"], start + s["offset"] + s["size"]) for s in header["sections"]}
    return {"head": (_PRELUDE.size, _PRELUDE.size + head_size), "sections": sections}


@pytest.fixture(scope="module")
def model_bytes(toy) -> bytes:
    return toy["model"].read_bytes()


# --- truncation --------------------------------------------------------------------------
def truncation_points(data: bytes) -> dict[str, int]:
    lay = layout(data)
    h0, h1 = lay["head"]
    e0, e1 = lay["sections"]["weights.embed"]
    w0, w1 = lay["sections"]["weights.word_b"]
    return {
        "magic": 3, "version": 10, "prelude-end": _PRELUDE.size - 1, "header-start": _PRELUDE.size,
        "header-middle": (h0 + h1) // 2, "header-end": h1 - 1,
        "first-section": lay["sections"]["vocab.words"][0] + 1, "embed": (e0 + e1) // 2,
        "last-section": w1 - 1, "before-last-section": w0,
    }


@pytest.mark.parametrize("where", ["magic", "version", "prelude-end", "header-start", "header-middle",
                                   "header-end", "first-section", "embed", "last-section",
                                   "before-last-section"])
def test_truncated_model(tmp_path, model_bytes, where):
    cut = truncation_points(model_bytes)[where]
    p = tmp_path / "cut.rnnlm"
    p.write_bytes(model_bytes[:cut])
    with pytest.raises(ModelFormatError) as e:
        RNNLM.load(p)
    msg = said(e.value, p)
    assert "truncated" in msg, msg
    assert not isinstance(e.value, FormatVersionError)


def test_read_header_reads_only_the_header(toy_vocab, tmp_path):
    path = tmp_path / "b.rnnlm"
    RNNLM(toy_vocab, hidden=8, direction="backward").save(path)
    header = read_header(path)
    assert header["config"]["direction"] == "backward" and header["config"]["hidden"] == 8
    data = path.read_bytes()
    (tmp_path / "cut.rnnlm").write_bytes(data[: len(data) // 2])  # sections cut off, header intact
    assert read_header(tmp_path / "cut.rnnlm")["config"]["hidden"] == 8
    with pytest.raises(ModelFormatError, match="truncated"):
        RNNLM.load(tmp_path / "cut.rnnlm")


@pytest.mark.parametrize("extra", [b"garbage", bytes(64), b"\0"])
def test_bytes_after_the_last_section_are_rejected_with_their_offset(tmp_path, model_bytes, extra):
    """The layout is fully declared, so bytes after the last section's padding are a
    corruption or a concatenation (two models in one file): refused, naming the offset."""
    p = tmp_path / "extra.rnnlm"
    p.write_bytes(model_bytes + extra)
    with pytest.raises(ModelFormatError) as e:
        RNNLM.load(p)
    msg = said(e.value, p)
    assert (f"{len(extra)} unexpected bytes after the last section, "
            f"from byte offset {len(model_bytes)}") in msg, msg
    p.write_bytes(model_bytes + model_bytes)  # two models concatenated
    with pytest.raises(ModelFormatError, match=f"byte offset {len(model_bytes)}"):
        RNNLM.load(p)


def test_cut_padding_after_the_last_section_is_truncation(tmp_path, model_bytes):
    end = layout(model_bytes)["sections"]["weights.word_b"][1]
    assert end < len(model_bytes), "the toy model's last section needs padding for this test"
    p = tmp_path / "cut.rnnlm"
    p.write_bytes(model_bytes[:end])
    with pytest.raises(ModelFormatError, match="truncated"):
        RNNLM.load(p)


# --- every header field typed and in range ------------------------------------------------
def rewrite_header(data: bytes, edit) -> bytes:
    """The model file with its JSON header edited by ``edit`` (checksum and padding fixed)."""
    _, version, size, _ = _PRELUDE.unpack(data[:_PRELUDE.size])
    header = json.loads(data[_PRELUDE.size:_PRELUDE.size + size])
    old_start = -(-(_PRELUDE.size + size) // 64) * 64
    edit(header)
    head = json.dumps(header).encode("utf-8")
    start = -(-(_PRELUDE.size + len(head)) // 64) * 64
    return (_PRELUDE.pack(data[:8], version, len(head), zlib.crc32(head)) + head
            + b"\0" * (start - _PRELUDE.size - len(head)) + data[old_start:])


def _set(path, value):
    def edit(header):
        obj = header
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value
    return edit


def _delete(path):
    def edit(header):
        obj = header
        for key in path[:-1]:
            obj = obj[key]
        del obj[path[-1]]
    return edit


HEADER_CASES = {
    # fuzz/run.py --target model --minutes 0.5 --seed 12345 found this one: TypeError: unhashable type: 'list'
    "dtype-list": (_set(["sections", 0, "dtype"], ["<f4"]), "dtype ['<f4']"),
    "dtype-dict": (_set(["sections", 0, "dtype"], {"a": 1}), "dtype {'a': 1}"),
    "dtype-unknown": (_set(["sections", 0, "dtype"], "<f8"), "dtype '<f8'"),
    "name-list": (_set(["sections", 0, "name"], ["vocab.words"]), "name ['vocab.words']"),
    "name-int": (_set(["sections", 0, "name"], 7), "name 7"),
    "name-empty": (_set(["sections", 0, "name"], ""), "name ''"),
    "shape-float": (_set(["sections", 0, "shape"], [1.5]), "shape [1.5]"),
    "shape-string": (_set(["sections", 0, "shape"], ["3"]), "shape ['3']"),
    "shape-bool": (_set(["sections", 0, "shape"], [True]), "shape [True]"),
    "shape-negative": (_set(["sections", 0, "shape"], [-1]), "shape [-1]"),
    "shape-huge": (_set(["sections", 0, "shape"], [1 << 63]), "shape"),
    "shape-not-list": (_set(["sections", 0, "shape"], 12), "shape 12"),
    "shape-too-long": (_set(["sections", 0, "shape"], [1] * 9), "shape"),
    "offset-float": (_set(["sections", 0, "offset"], 0.0), "offset 0.0"),
    "offset-negative": (_set(["sections", 1, "offset"], -64), "offset -64"),
    "offset-misplaced": (_set(["sections", 1, "offset"], 128 * 64), "expected"),
    "size-string": (_set(["sections", 0, "size"], "12"), "size '12'"),
    "size-bool": (_set(["sections", 0, "size"], True), "size True"),
    "crc-float": (_set(["sections", 0, "crc32"], 1.0), "crc32 1.0"),
    "crc-past-32-bits": (_set(["sections", 0, "crc32"], 1 << 32), "crc32"),
    "crc-missing": (_delete(["sections", 0, "crc32"]), "lacks crc32"),
    "entry-list": (_set(["sections", 0], ["vocab.words"]), "section entry 0"),
    "entry-null": (_set(["sections", 0], None), "section entry 0"),
    "config-hidden-float": (_set(["config", "hidden"], 4.5), "'hidden' is 4.5"),
    "config-hidden-bool": (_set(["config", "hidden"], True), "'hidden' is True"),
    "config-seed-negative": (_set(["config", "seed"], -1), "'seed' is -1"),
    "config-cell-list": (_set(["config", "cell"], ["sigmoid"]), "'cell' is ['sigmoid']"),
    "config-direction-int": (_set(["config", "direction"], 1), "'direction' is 1"),
    "history-epoch-string": (_set(["history"], [{"epoch": "1"}]), "'epoch' is '1'"),
    "history-lr-list": (_set(["history"], [{"epoch": 1, "lr": [0.1]}]), "history record 0"),
    "history-kept-int": (_set(["history"], [{"epoch": 1, "kept": 1}]), "'kept' is 1"),
    "history-epoch-negative": (_set(["history"], [{"epoch": -2}]), "negative epoch"),
    "history-record-list": (_set(["history"], [[1, 2]]), "history record 0"),
    "checkpoint-list": (_set(["checkpoint"], [1]), "'checkpoint' is [1]"),
    "checkpoint-options-list": (_set(["checkpoint"], {"options": ["lr"]}), "checkpoint 'options'"),
    "checkpoint-options-nested": (_set(["checkpoint"], {"options": {"lr": [0.1]}}), "checkpoint 'options'"),
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_every_header_field_is_typed_and_ranged(tmp_path, model_bytes, case):
    edit, expected = HEADER_CASES[case]
    p = tmp_path / f"{case}.rnnlm"
    p.write_bytes(rewrite_header(model_bytes, edit))
    with pytest.raises(ModelFormatError) as e:
        RNNLM.load(p)
    msg = said(e.value, p)
    assert expected in msg, msg
    with pytest.raises(ModelFormatError):  # the checkpoint reader goes through the same checks
        load_checkpoint(RNNLM, p)


def test_an_unedited_rewrite_loads(tmp_path, model_bytes, toy):
    """The rewriting helper itself keeps a valid file valid."""
    p = tmp_path / "same.rnnlm"
    p.write_bytes(rewrite_header(model_bytes, lambda h: None))
    assert same_model(RNNLM.load(p), RNNLM.load(toy["model"]))


def test_history_field_types_agree_with_epoch_record():
    fields = {f.name: f.type for f in dataclasses.fields(EpochRecord)}
    assert ({name: {"int": int, "float": float, "bool": bool}[t] for name, t in fields.items()}
            == HISTORY_FIELDS)


# --- flipped bytes -----------------------------------------------------------------------
def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[offset] ^= mask
    return bytes(b)


def flip_points(data: bytes) -> dict[str, int]:
    lay = layout(data)
    h0, h1 = lay["head"]
    pts = {"header-size": 12, "header-crc": 17, "header-first": h0, "header-middle": (h0 + h1) // 2,
           "header-last": h1 - 1}
    for name, (a, b) in lay["sections"].items():
        pts[f"{name}-first"] = a
        pts[f"{name}-last"] = b - 1
    return pts


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_flipped_byte_in_header_or_weights(tmp_path, model_bytes, mask):
    p = tmp_path / "flipped.rnnlm"
    points = flip_points(model_bytes)
    assert len(points) > 20
    for where, offset in points.items():
        p.write_bytes(flip(model_bytes, offset, mask))
        with pytest.raises(ModelFormatError) as e:
            RNNLM.load(p)
        msg = said(e.value, p)
        assert re.search("checksum|corrupt|truncated", msg), (where, msg)


def test_every_flipped_byte_is_caught_or_harmless(tmp_path, model_bytes, toy):
    """Sweep the file: a flip is reported, or it hit alignment padding and loads the same model."""
    original = RNNLM.load(toy["model"])
    lay = layout(model_bytes)
    checked = ([range(12, _PRELUDE.size), range(*lay["head"])]
               + [range(a, b) for a, b in lay["sections"].values()])
    p = tmp_path / "flipped.rnnlm"
    p.write_bytes(model_bytes)
    fd = os.open(p, os.O_RDWR)
    caught = harmless = 0
    for offset in range(0, len(model_bytes), 2):
        os.pwrite(fd, bytes([model_bytes[offset] ^ 0x10]), offset)  # rewriting the whole file is slow here
        try:
            m = RNNLM.load(p)
        except FormatVersionError as e:
            assert 8 <= offset < 12 and "version" in said(e, p)
            caught += 1
        except ModelFormatError as e:
            msg = said(e, p)
            if offset < 8:
                assert "not an rnnlm-fast model" in msg, msg
            elif offset < 12:
                assert "version" in msg, msg
            else:
                assert re.search("checksum|corrupt|truncated", msg), (offset, msg)
            caught += 1
        else:
            assert not any(offset in r for r in checked), f"flip at byte {offset} went unnoticed"
            assert same_model(m, original)
            harmless += 1
        finally:
            os.pwrite(fd, model_bytes[offset:offset + 1], offset)
    os.close(fd)
    assert p.read_bytes() == model_bytes
    assert caught > 10 * harmless


# --- format versions ---------------------------------------------------------------------
def with_version(tmp_path, data: bytes, version: int, name: str):
    """A copy of the model file whose prelude says format ``version``."""
    b = bytearray(data)
    b[8:12] = struct.pack("<I", version)
    p = tmp_path / name
    p.write_bytes(bytes(b))
    return p


@pytest.mark.parametrize("version", [4, 7, 1000])
def test_future_format_version(tmp_path, model_bytes, version):
    p = with_version(tmp_path, model_bytes, version, "future.rnnlm")
    with pytest.raises(FormatVersionError) as e:
        RNNLM.load(p)
    assert f"version {version}" in said(e.value, p)


@pytest.mark.parametrize("version", [1001, 16777217, 2**31, 2**32 - 1])
def test_implausible_format_version_is_corruption(tmp_path, model_bytes, version):
    """The prelude's version field has no checksum: a bit flip there must read as a corrupt
    file, not as "written by format version 16777217, upgrade"."""
    p = with_version(tmp_path, model_bytes, version, "flipped_version.rnnlm")
    with pytest.raises(ModelFormatError) as e:
        RNNLM.load(p)
    assert not isinstance(e.value, FormatVersionError)
    msg = said(e.value, p)
    assert "corrupt" in msg and f"version {version}" in msg and "upgrade" not in msg, msg


def test_format_version_zero(tmp_path, model_bytes):
    p = with_version(tmp_path, model_bytes, 0, "v0.rnnlm")
    with pytest.raises(ModelFormatError) as e:
        RNNLM.load(p)
    assert "version 0" in said(e.value, p)
    assert not isinstance(e.value, FormatVersionError)


# --- foreign files -----------------------------------------------------------------------
@pytest.mark.parametrize("kind, expected", [
    ("gzip", "gzip"), ("text", "text"), ("text-unicode", "text"), ("empty", "empty"),
    ("rnnlm-0.4b", "rnnlm-0.4b"), ("zip", "zip"), ("binary", "not an rnnlm-fast model"),
])
def test_foreign_files(tmp_path, model_bytes, kind, expected):
    content = {
        "gzip": gzip.compress(model_bytes),
        "text": b"the noun1 verb1\nthe noun2 verb2\n",
        "text-unicode": "caf\u00e9s \u00e9t\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber\n".encode(),
        "empty": b"",
        "rnnlm-0.4b": b"version: 10\nfile format: 0\n\ntraining data file: train.txt\n",
        "zip": b"PK\x03\x04" + bytes(40),
        "binary": bytes(range(256)),
    }[kind]
    p = tmp_path / f"foreign.{kind}"
    p.write_bytes(content)
    with pytest.raises(ModelFormatError) as e:
        RNNLM.load(p)
    assert expected in said(e.value, p)
