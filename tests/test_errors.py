"""Every bad input gets a typed exception that says where (file, line, column or byte), and
nothing half-written is left behind.

Hermetic: generated corpora in ``tmp_path``, seeded, one thread, small models.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from corpora import sentences, write_text

import rnnlm_fast
import rnnlm_fast._files
import rnnlm_fast.model_file
from rnnlm_fast import (
    RNNLM,
    ConfigError,
    CorpusError,
    DivergenceError,
    FormatVersionError,
    MissingFileError,
    ModelFormatError,
    RnnlmError,
    Vocabulary,
    VocabularyError,
    VocabularyMismatchError,
)
from rnnlm_fast.model_file import _PRELUDE

HIDDEN = 8
CLASSES = 5


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("err")
    train = write_text(d / "train.txt", sentences(300, seed=0))
    valid = write_text(d / "valid.txt", sentences(50, seed=1))
    vocab = Vocabulary.from_corpus(train, classes=CLASSES)
    model = RNNLM(vocab, hidden=HIDDEN, seed=1)
    model.save(d / "model.rnnlm")
    vocab.save(d / "vocab.txt")
    return {"train": train, "valid": valid, "model": d / "model.rnnlm", "vocab": d / "vocab.txt"}


@pytest.fixture(scope="module")
def vocab(files) -> Vocabulary:
    return Vocabulary.from_corpus(files["train"], classes=CLASSES)


@pytest.fixture
def model(vocab) -> RNNLM:
    return RNNLM(vocab, hidden=HIDDEN, seed=1)


def said(exc: BaseException, path: Path, line: int | None = None) -> str:
    """Assert that the message names ``path`` (as ``path:line:`` when given); return the rest.

    Keywords are then checked without the path, which holds the test's name.
    """
    msg = str(exc)
    where = f"{path}:{line}:" if line is not None else str(path)
    assert where in msg, (where, msg)
    return msg.replace(where, "<where>")


def no_temp_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


# --- missing files and directories -----------------------------------------------------
def test_error_hierarchy():
    assert issubclass(MissingFileError, FileNotFoundError) and issubclass(MissingFileError, RnnlmError)
    assert issubclass(FormatVersionError, ModelFormatError)
    assert issubclass(VocabularyMismatchError, VocabularyError)
    for cls in (CorpusError, ModelFormatError, VocabularyError, ConfigError):
        assert issubclass(cls, ValueError) and issubclass(cls, RnnlmError)
    assert issubclass(DivergenceError, ArithmeticError)


@pytest.mark.parametrize("kind", ["missing", "directory"])
@pytest.mark.parametrize("call", ["vocab_from_corpus", "encode_file", "perplexity", "train_text", "train_valid",
                                  "model_load", "vocab_load"])
def test_missing_file_or_directory(tmp_path, files, model, kind, call):
    bad = tmp_path / "nothing_here.txt"
    if kind == "directory":
        bad.mkdir()
    calls = {
        "vocab_from_corpus": lambda: Vocabulary.from_corpus(bad, classes=CLASSES),
        "encode_file": lambda: model.encode_file(bad),
        "perplexity": lambda: model.perplexity(bad),
        "train_text": lambda: model.train(bad, files["valid"], max_epochs=1, progress=False),
        "train_valid": lambda: model.train(files["train"], bad, max_epochs=1, progress=False),
        "model_load": lambda: RNNLM.load(bad),
        "vocab_load": lambda: Vocabulary.load(bad),
    }
    with pytest.raises(MissingFileError) as e:
        calls[call]()
    rest = said(e.value, bad)
    assert ("directory" if kind == "directory" else "not exist") in rest, rest


def test_missing_file_among_several(tmp_path, files):
    bad = tmp_path / "second.txt"
    with pytest.raises(MissingFileError, match=re.escape(str(bad))):
        Vocabulary.from_corpus([files["train"], bad], classes=CLASSES)


# --- corpus content --------------------------------------------------------------------
def test_empty_corpus(tmp_path, model):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: model.encode_file(p),
                 lambda: model.perplexity(p)):
        with pytest.raises(CorpusError) as e:
            call()
        assert "empty" in said(e.value, p)


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\n\n", b" \t \r\n\n  "], ids=["bom", "newlines", "spaces"])
def test_corpus_without_words(tmp_path, model, content):
    p = tmp_path / "blank.txt"
    p.write_bytes(content)
    with pytest.raises(CorpusError) as e:
        Vocabulary.from_corpus(p, classes=CLASSES)
    assert "no words" in said(e.value, p)
    # As text to score, blank lines are empty sentences: only </s> is predicted.
    enc = model.encode_file(p)
    assert enc.sentences == content.count(b"\n") + (not content.endswith(b"\n"))
    assert np.all(enc.ids == 0)


def test_empty_corpus_among_several(tmp_path, files):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(CorpusError) as e:
        Vocabulary.from_corpus([files["train"], p], classes=CLASSES)
    assert "empty" in said(e.value, p)


BAD_UTF8 = {
    "invalid-start": b"\xff",
    "lone-continuation": b"\x80",
    "bad-continuation": b"\xc3\x28",
    "overlong": b"\xc0\xaf",
    "surrogate": b"\xed\xa0\x80",
    "above-max": b"\xf4\x90\x80\x80",
    "cut-sequence": b"\xe2\x82",
}


def corrupt_corpus(path: Path, line: int, payload: bytes, *, gz: bool = False) -> tuple[Path, int]:
    """A corpus whose line ``line`` (1-based) is ``noun1 verb2 <payload>x noun3``; returns the column."""
    lines = [s.encode() for s in sentences(20, seed=3)]
    prefix = b"noun1 verb2 "
    lines[line - 1] = prefix + payload + b"x noun3"
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if gz else data)
    return path, len(prefix) + 1


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", sorted(BAD_UTF8))
def test_invalid_utf8_names_file_line_and_column(tmp_path, model, name, gz):
    p, column = corrupt_corpus(tmp_path / ("bad.txt.gz" if gz else "bad.txt"), 7, BAD_UTF8[name], gz=gz)
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: model.encode_file(p)):
        with pytest.raises(CorpusError) as e:
            call()
        msg = said(e.value, p, 7)
        assert "UTF-8" in msg and f"column {column}" in msg, msg
        assert f"0x{BAD_UTF8[name][0]:02X}" in msg, msg


def test_invalid_utf8_on_first_line_after_bom(tmp_path):
    p = tmp_path / "bom_bad.txt"
    p.write_bytes(b"\xef\xbb\xbfab \xff cd\nnoun1 verb1\n")
    with pytest.raises(CorpusError) as e:
        Vocabulary.from_corpus(p, classes=CLASSES)
    assert "column 4" in said(e.value, p, 1)


def test_nul_byte(tmp_path, model):
    p, column = corrupt_corpus(tmp_path / "nul.txt", 3, b"\x00")
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: model.encode_file(p)):
        with pytest.raises(CorpusError) as e:
            call()
        msg = said(e.value, p, 3)
        assert "NUL" in msg and f"column {column}" in msg, msg


@pytest.mark.parametrize("shape", ["words", "one-token", "last-line-no-newline"])
def test_one_megabyte_line(tmp_path, model, shape):
    big = b"x " * 500_000 if shape != "one-token" else b"y" * 1_000_000
    p = tmp_path / "long.txt"
    tail = b"" if shape == "last-line-no-newline" else b"\nnoun2 verb2\n"
    p.write_bytes(b"the noun1 verb1\nthe noun3 verb3\n" + big + tail)
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: model.encode_file(p)):
        with pytest.raises(CorpusError) as e:
            call()
        msg = said(e.value, p, 3)
        assert "max_line_bytes" in msg and "262144" in msg, msg
    # Raising the limit accepts the same file.
    v = Vocabulary.from_corpus(p, classes=CLASSES, max_line_bytes=2_000_000)
    word = "x" if shape != "one-token" else "y" * 1_000_000
    assert v.counts[v[word]] == (500_000 if shape != "one-token" else 1)
    enc = model.encode_file(p, max_line_bytes=2_000_000)
    assert enc.sentences == (3 if shape == "last-line-no-newline" else 4)


def test_line_at_exactly_max_line_bytes_is_accepted(tmp_path):
    p = tmp_path / "edge.txt"
    p.write_bytes(b"ab " * 100 + b"\n" + b"cd " * 10 + b"\n")
    assert Vocabulary.from_corpus(p, classes=2, max_line_bytes=300)["ab"] > 0
    with pytest.raises(CorpusError) as e:
        Vocabulary.from_corpus(p, classes=2, max_line_bytes=299)
    assert "max_line_bytes" in said(e.value, p, 1)


@pytest.mark.parametrize("cut", ["half", "no-trailer", "header-only"])
def test_truncated_gzip_corpus(tmp_path, files, model, cut):
    raw = gzip.compress(files["train"].read_bytes())
    keep = {"half": len(raw) // 2, "no-trailer": len(raw) - 4, "header-only": 12}[cut]
    p = tmp_path / "train.txt.gz"
    p.write_bytes(raw[:keep])
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: model.encode_file(p),
                 lambda: model.perplexity(p)):
        with pytest.raises(CorpusError) as e:
            call()
        assert "gzip" in said(e.value, p)


def test_gzip_corpus_equals_plain(tmp_path, files):
    p = tmp_path / "train.txt.gz"
    p.write_bytes(gzip.compress(files["train"].read_bytes()))
    assert Vocabulary.from_corpus(p, classes=CLASSES) == Vocabulary.from_corpus(files["train"], classes=CLASSES)


VARIANTS = {
    "crlf": lambda b: b.replace(b"\n", b"\r\n"),
    "bom": lambda b: b"\xef\xbb\xbf" + b,
    "tabs": lambda b: b.replace(b" ", b"\t"),
    "mixed-spaces": lambda b: b"  " + b.replace(b" ", b" \t  ").replace(b"\n", b" \t\n"),
    "no-final-newline": lambda b: b.rstrip(b"\n"),
    "all": lambda b: b"\xef\xbb\xbf" + b.replace(b" ", b"\t").replace(b"\n", b"\r\n").rstrip(b"\r\n"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_harmless_formatting_gives_the_same_vocabulary(tmp_path, files, variant):
    clean = files["train"]
    p = tmp_path / f"{variant}.txt"
    p.write_bytes(VARIANTS[variant](clean.read_bytes()))
    assert p.read_bytes() != clean.read_bytes()
    want = Vocabulary.from_corpus(clean, classes=CLASSES)
    got = Vocabulary.from_corpus(p, classes=CLASSES)
    assert got == want
    assert got.words == want.words and "\ufeff" not in "".join(got.words)
    assert (got.corpus_tokens, got.corpus_lines) == (want.corpus_tokens, want.corpus_lines)
    model = RNNLM(want, hidden=HIDDEN, seed=1)
    a, b = model.encode_file(clean), model.encode_file(p)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert model.perplexity(p).ppl == model.perplexity(clean).ppl


# --- model files -----------------------------------------------------------------------
def layout(data: bytes) -> dict:
    """Byte ranges of the model file: prelude fields, JSON header, section data and padding."""
    _, _, head_size, _ = _PRELUDE.unpack(data[: _PRELUDE.size])
    header = json.loads(data[_PRELUDE.size:_PRELUDE.size + head_size])
    start = -(-(_PRELUDE.size + head_size) // 64) * 64
    sections = {s["name"]: (start + s["offset"], start + s["offset"] + s["size"]) for s in header["sections"]}
    return {"head": (_PRELUDE.size, _PRELUDE.size + head_size), "sections": sections}


def same_model(a: RNNLM, b: RNNLM) -> bool:
    wa, wb = a.weights(), b.weights()
    return a.vocab == b.vocab and all(np.array_equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def model_bytes(files) -> bytes:
    return files["model"].read_bytes()


def test_model_round_trip(files, tmp_path):
    m = RNNLM.load(files["model"])
    assert m.hidden == HIDDEN and m.n_classes == CLASSES
    assert same_model(m, RNNLM(Vocabulary.from_corpus(files["train"], classes=CLASSES), hidden=HIDDEN, seed=1))


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


def test_every_flipped_byte_is_caught_or_harmless(tmp_path, model_bytes, files):
    """Sweep the file: a flip is reported, or it hit alignment padding and loads the same model."""
    original = RNNLM.load(files["model"])
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


@pytest.mark.parametrize("version", [3, 7, 1000])
def test_future_format_version(tmp_path, model_bytes, version):
    b = bytearray(model_bytes)
    b[8:12] = struct.pack("<I", version)
    p = tmp_path / "future.rnnlm"
    p.write_bytes(bytes(b))
    with pytest.raises(FormatVersionError) as e:
        RNNLM.load(p)
    assert f"version {version}" in said(e.value, p)


@pytest.mark.parametrize("version", [1001, 16777217, 2**31, 2**32 - 1])
def test_implausible_format_version_is_corruption(tmp_path, model_bytes, version):
    """The prelude's version field has no checksum: a bit flip there must read as a corrupt
    file, not as "written by format version 16777217, upgrade"."""
    b = bytearray(model_bytes)
    b[8:12] = struct.pack("<I", version)
    p = tmp_path / "flipped_version.rnnlm"
    p.write_bytes(bytes(b))
    with pytest.raises(ModelFormatError) as e:
        RNNLM.load(p)
    assert not isinstance(e.value, FormatVersionError)
    msg = said(e.value, p)
    assert "corrupt" in msg and f"version {version}" in msg and "upgrade" not in msg, msg


def test_format_version_zero(tmp_path, model_bytes):
    b = bytearray(model_bytes)
    b[8:12] = struct.pack("<I", 0)
    p = tmp_path / "v0.rnnlm"
    p.write_bytes(bytes(b))
    with pytest.raises(ModelFormatError) as e:
        RNNLM.load(p)
    assert "version 0" in said(e.value, p)
    assert not isinstance(e.value, FormatVersionError)


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


def test_extra_bytes_after_a_model_are_reported_or_ignored(tmp_path, model_bytes, files):
    p = tmp_path / "extra.rnnlm"
    p.write_bytes(model_bytes + b"garbage")
    try:
        m = RNNLM.load(p)
    except ModelFormatError as e:
        assert str(p) in str(e)
    else:
        assert same_model(m, RNNLM.load(files["model"]))


# --- vocabulary mismatch ---------------------------------------------------------------
def test_load_with_the_same_vocabulary(files, vocab):
    assert RNNLM.load(files["model"], vocab=vocab).vocab == vocab
    assert RNNLM.load(files["model"], vocab=Vocabulary.load(files["vocab"])).vocab == vocab


def test_load_with_swapped_words(files, vocab):
    words = list(vocab.words)
    words[3], words[4] = words[4], words[3]
    other = Vocabulary(words, vocab.counts, vocab.word_class)
    with pytest.raises(VocabularyMismatchError) as e:
        RNNLM.load(files["model"], vocab=other)
    msg = said(e.value, files["model"])
    assert "id 3" in msg, msg
    assert repr(words[3]) in msg and repr(vocab.words[3]) in msg, msg


def test_load_with_a_vocabulary_from_another_corpus(tmp_path, files, vocab):
    lines = [s.replace("noun", "thing") for s in sentences(300, seed=0)] + ["extra words here"]
    other = Vocabulary.from_corpus(write_text(tmp_path / "other.txt", lines), classes=CLASSES)
    with pytest.raises(VocabularyMismatchError) as e:
        RNNLM.load(files["model"], vocab=other)
    msg = said(e.value, files["model"])
    first = next(i for i, (a, b) in enumerate(zip(vocab.words, other.words)) if a != b)
    assert f"id {first}" in msg and repr(other.words[first]) in msg and repr(vocab.words[first]) in msg, msg


def test_load_with_a_longer_vocabulary(files, vocab):
    other = Vocabulary(list(vocab.words) + ["zzz"], list(vocab.counts) + [1],
                       list(vocab.word_class) + [int(vocab.word_class[-1])])
    with pytest.raises(VocabularyMismatchError) as e:
        RNNLM.load(files["model"], vocab=other)
    msg = said(e.value, files["model"])
    assert f"id {len(vocab)}" in msg and "'zzz'" in msg, msg


# --- failing saves leave the previous file --------------------------------------------
class FailingFile:
    """Wraps a file object; write() raises ``exc`` once more than ``limit`` bytes were written."""

    def __init__(self, f, limit: int, exc: BaseException):
        self._f, self._limit, self._exc, self._written = f, limit, exc, 0

    def write(self, data) -> int:
        n = len(data) if isinstance(data, str) else memoryview(data).nbytes
        if self._written + n > self._limit:
            part = self._limit - self._written
            self._f.write(data[:part])
            self._written = self._limit
            raise self._exc
        self._written += n
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        self._f.__enter__()
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def fail_writes_after(monkeypatch, limit: int, exc: BaseException) -> None:
    real = os.fdopen

    def fdopen(fd, *args, **kwargs):
        return FailingFile(real(fd, *args, **kwargs), limit, exc)

    monkeypatch.setattr(rnnlm_fast._files.os, "fdopen", fdopen)


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
@pytest.mark.parametrize("limit", [0, 10, 1000, 3000])
def test_failing_model_save_keeps_previous_file(tmp_path, model, monkeypatch, exc, limit):
    target = tmp_path / "lm.rnnlm"
    model.save(target)
    before = target.read_bytes()
    other = RNNLM(model.vocab, hidden=HIDDEN, seed=2)
    fail_writes_after(monkeypatch, limit, exc)
    with pytest.raises(type(exc)):
        other.save(target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert no_temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm.rnnlm"]
    assert same_model(RNNLM.load(target), model)


def test_failing_checksum_during_save_keeps_previous_file(tmp_path, model, monkeypatch):
    target = tmp_path / "lm.rnnlm"
    model.save(target)
    before = target.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("crc32 failed")

    monkeypatch.setattr(rnnlm_fast.model_file.zlib, "crc32", boom)
    with pytest.raises(RuntimeError, match="crc32 failed"):
        RNNLM(model.vocab, hidden=HIDDEN, seed=2).save(target)
    monkeypatch.undo()
    assert target.read_bytes() == before and no_temp_files(tmp_path) == []


def test_failing_fsync_during_save_keeps_previous_file(tmp_path, model, monkeypatch):
    target = tmp_path / "lm.rnnlm"
    model.save(target)
    before = target.read_bytes()

    def fsync(fd):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(rnnlm_fast._files.os, "fsync", fsync)
    with pytest.raises(OSError):
        RNNLM(model.vocab, hidden=HIDDEN, seed=2).save(target)
    monkeypatch.undo()
    assert target.read_bytes() == before and no_temp_files(tmp_path) == []


def test_failing_vocabulary_save_keeps_previous_file(tmp_path, vocab, monkeypatch):
    target = tmp_path / "vocab.txt"
    vocab.save(target)
    before = target.read_bytes()
    fail_writes_after(monkeypatch, 50, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OSError):
        vocab.with_classes(2).save(target)
    monkeypatch.undo()
    assert target.read_bytes() == before and no_temp_files(tmp_path) == []
    assert Vocabulary.load(target) == vocab


def test_save_into_missing_directory(tmp_path, model):
    with pytest.raises(OSError):
        model.save(tmp_path / "no" / "such" / "dir" / "lm.rnnlm")
    assert list(tmp_path.iterdir()) == []


# --- malformed vocabulary files --------------------------------------------------------
def edit_vocab_line(src: Path, dst: Path, lineno: int, new: str | None) -> Path:
    lines = src.read_text(encoding="utf-8").split("\n")
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    dst.write_text("\n".join(lines), encoding="utf-8")
    return dst


def id_line(i: int) -> int:
    """Line of word id ``i`` in a saved vocabulary (after the two header lines)."""
    return i + 3


@pytest.mark.parametrize("case", ["header", "field-count", "too-many-fields", "count", "class", "id-order",
                                  "missing-id", "non-contiguous-class", "class-goes-back", "first-class",
                                  "duplicate", "empty-word", "first-word", "negative-count"])
def test_malformed_vocabulary_file(tmp_path, files, vocab, case):
    src = files["vocab"]
    w = vocab.words
    c = vocab.word_class.tolist()
    k = next(i for i in range(2, len(w)) if c[i] == c[i - 1] and c[i] > 0)  # inside a class, not the first
    edits = {
        "header": (1, "# some other format v1"),
        "field-count": (id_line(5), f"5\t{w[5]}\t3"),
        "too-many-fields": (id_line(5), f"5\t{w[5]}\t3\t{c[5]}\textra"),
        "count": (id_line(5), f"5\t{w[5]}\tmany\t{c[5]}"),
        "class": (id_line(5), f"5\t{w[5]}\t3\tone"),
        "id-order": (id_line(5), f"6\t{w[5]}\t3\t{c[5]}"),
        "missing-id": (id_line(5), None),
        "non-contiguous-class": (id_line(k), f"{k}\t{w[k]}\t3\t{c[k] + 2}"),
        "class-goes-back": (id_line(k), f"{k}\t{w[k]}\t3\t{c[k] - 1}"),
        "first-class": (id_line(0), "0\t</s>\t3\t1"),
        "duplicate": (id_line(6), f"6\t{w[2]}\t3\t{c[6]}"),
        "empty-word": (id_line(6), f"6\t\t3\t{c[6]}"),
        "first-word": (id_line(0), "0\tnot-eos\t3\t0"),
        "negative-count": (id_line(6), f"6\t{w[6]}\t-3\t{c[6]}"),
    }
    lineno, new = edits[case]
    p = edit_vocab_line(src, tmp_path / "bad_vocab.txt", lineno, new)
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(p)
    msg = said(e.value, p, lineno)
    if case == "duplicate":
        assert repr(w[2]) in msg and f"line {id_line(2)}" in msg, msg


def test_vocabulary_file_invalid_utf8_and_empty(tmp_path, files):
    raw = files["vocab"].read_bytes().split(b"\n")
    raw[id_line(4) - 1] = b"4\tw\xff\t3\t0"
    p = tmp_path / "bad_utf8.txt"
    p.write_bytes(b"\n".join(raw))
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(p)
    assert "UTF-8" in said(e.value, p, id_line(4))
    empty = tmp_path / "empty_vocab.txt"
    empty.write_text("# rnnlm-fast vocabulary v1\n# words=0 classes=0\n")
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(empty)
    assert "empty" in said(e.value, empty)
    model_as_vocab = files["model"]
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(model_as_vocab)
    assert "not an rnnlm-fast vocabulary" in said(e.value, model_as_vocab, 1)


def test_vocabulary_round_trip_with_crlf(tmp_path, files, vocab):
    p = tmp_path / "crlf_vocab.txt"
    p.write_bytes(files["vocab"].read_bytes().replace(b"\n", b"\r\n"))
    assert Vocabulary.load(p) == vocab


def test_vocabulary_with_unusual_characters_round_trips(tmp_path):
    corpus = write_text(tmp_path / "u.txt", ["caf\u00e9 na\u00efve \u00a0nbsp\u00a0word x\u2028y", "caf\u00e9 x"])
    v = Vocabulary.from_corpus(corpus, classes=2)
    v.save(tmp_path / "u.vocab")
    assert Vocabulary.load(tmp_path / "u.vocab") == v


# --- bad options -----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{"hidden": 0}, {"hidden": -3}, {"hidden": 2.5}, {"hidden": 200_000},
                                    {"activation": "foo"}, {"activation": "Sigmoid"}])
def test_bad_model_options(vocab, kwargs):
    with pytest.raises(ConfigError):
        RNNLM(vocab, **kwargs)


def test_model_needs_a_vocabulary():
    with pytest.raises(ConfigError):
        RNNLM(["</s>", "a"], hidden=HIDDEN)


@pytest.mark.parametrize("kwargs", [{"lr": -1}, {"lr": 0}, {"lr": float("nan")}, {"lr": float("inf")},
                                    {"threads": -1}, {"bptt": 0}, {"bptt_block": 0}, {"l2": -1.0},
                                    {"gradient_cutoff": 0.0}, {"max_epochs": 0}, {"min_improvement": 0.5},
                                    {"on_divergence": "ignore"}])
def test_bad_training_options_change_nothing(files, model, kwargs):
    before = {k: v.copy() for k, v in model.weights().items()}
    with pytest.raises(ConfigError):
        model.train(files["train"], files["valid"], max_epochs=kwargs.pop("max_epochs", 1), progress=False, **kwargs)
    assert all(np.array_equal(before[k], v) for k, v in model.weights().items())


@pytest.mark.parametrize("kwargs", [{"classes": 0}, {"classes": -2}, {"min_count": 0}, {"max_size": -1}])
def test_bad_vocabulary_options(files, kwargs):
    with pytest.raises(ConfigError):
        Vocabulary.from_corpus(files["train"], **kwargs)


def test_bad_class_method(files, vocab):
    with pytest.raises(VocabularyError, match="class_method"):
        Vocabulary.from_corpus(files["train"], class_method="log")
    with pytest.raises(ConfigError):
        vocab.with_classes(0)


def test_bad_scoring_options(files, model):
    with pytest.raises(ConfigError, match="oov"):
        model.score(["the noun1 verb1"], oov="bad")
    with pytest.raises(ConfigError):
        model.score(["the noun1 verb1"], threads=-1)
    with pytest.raises(ConfigError):
        model.perplexity(files["valid"], threads=-1)
    with pytest.raises(VocabularyError, match="<unk>"):  # this vocabulary has no <unk>
        model.score(["the noun1 verb1"], oov="unk")


@pytest.mark.parametrize("bad", ["the noun1 verb1", b"the noun1", ["the noun1", 3], [None]])
def test_score_wants_a_list_of_strings(model, bad):
    with pytest.raises(ConfigError):
        model.score(bad)


def test_score_accepts_a_list(model):
    s = model.score(["the noun1 verb1", "a noun2 verb3 the noun4", ""])
    assert s.shape == (3,) and np.all(np.isfinite(s)) and np.all(s < 0)


# --- divergence ------------------------------------------------------------------------

