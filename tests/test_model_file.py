"""The model container (rnnlm_fast/model_file.py): truncation anywhere, flipped bytes caught by
checksums, format versions, foreign files recognised, and the header read on its own.

Every broken file raises ModelFormatError (or FormatVersionError) naming the path.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import struct

import pytest
from helpers import said, same_model

from rnnlm_fast import RNNLM, FormatVersionError, ModelFormatError
from rnnlm_fast.model_file import _PRELUDE, read_header


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
        "header-middle": (h0 + h1) // 2, "header-end": h1 - 1, "first-section": lay["sections"]["vocab.words"][0] + 1,
        "embed": (e0 + e1) // 2, "last-section": w1 - 1, "before-last-section": w0,
    }


@pytest.mark.parametrize("where", ["magic", "version", "prelude-end", "header-start", "header-middle", "header-end",
                                   "first-section", "embed", "last-section", "before-last-section"])
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


def test_extra_bytes_after_a_model_are_reported_or_ignored(tmp_path, model_bytes, toy):
    p = tmp_path / "extra.rnnlm"
    p.write_bytes(model_bytes + b"garbage")
    try:
        m = RNNLM.load(p)
    except ModelFormatError as e:
        assert str(p) in str(e)
    else:
        assert same_model(m, RNNLM.load(toy["model"]))


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
    checked = [range(12, _PRELUDE.size), range(*lay["head"])] + [range(a, b) for a, b in lay["sections"].values()]
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


@pytest.mark.parametrize("version", [3, 7, 1000])
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
