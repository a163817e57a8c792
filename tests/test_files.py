"""File handling shared by every reader and writer (rnnlm_fast/_files.py): a missing file or a
directory is a MissingFileError naming the path, and a save that fails (disk full, Ctrl-C, a
failing checksum or fsync, SIGKILL) leaves the previous file and no temporary file behind."""

from __future__ import annotations

import errno
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from helpers import CLASSES, HIDDEN, fail_writes_after, said, same_model, trained

import rnnlm_fast._files
import rnnlm_fast.model_file
from rnnlm_fast import RNNLM, MissingFileError, Vocabulary


def no_temp_files(directory) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


# --- missing files and directories -----------------------------------------------------
@pytest.mark.parametrize("kind", ["missing", "directory"])
@pytest.mark.parametrize("call", ["vocab_from_corpus", "encode_file", "perplexity", "train_text",
                                  "train_valid", "model_load", "vocab_load"])
def test_missing_file_or_directory(tmp_path, toy, toy_model, kind, call):
    bad = tmp_path / "nothing_here.txt"
    if kind == "directory":
        bad.mkdir()
    calls = {
        "vocab_from_corpus": lambda: Vocabulary.from_corpus(bad, classes=CLASSES),
        "encode_file": lambda: toy_model.encode_file(bad),
        "perplexity": lambda: toy_model.perplexity(bad),
        "train_text": lambda: toy_model.train(bad, toy["valid"], max_epochs=1, progress=False),
        "train_valid": lambda: toy_model.train(toy["train"], bad, max_epochs=1, progress=False),
        "model_load": lambda: RNNLM.load(bad),
        "vocab_load": lambda: Vocabulary.load(bad),
    }
    with pytest.raises(MissingFileError) as e:
        calls[call]()
    rest = said(e.value, bad)
    assert ("directory" if kind == "directory" else "not exist") in rest, rest


def test_missing_file_among_several(tmp_path, toy):
    bad = tmp_path / "second.txt"
    with pytest.raises(MissingFileError, match=re.escape(str(bad))):
        Vocabulary.from_corpus([toy["train"], bad], classes=CLASSES)


# --- failing saves leave the previous file --------------------------------------------
@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
@pytest.mark.parametrize("limit", [0, 10, 1000, 3000])
def test_failing_model_save_keeps_previous_file(tmp_path, toy_model, monkeypatch, exc, limit):
    target = tmp_path / "lm.rnnlm"
    toy_model.save(target)
    before = target.read_bytes()
    other = RNNLM(toy_model.vocab, hidden=HIDDEN, seed=2)
    fail_writes_after(monkeypatch, limit, exc)
    with pytest.raises(type(exc)):
        other.save(target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert no_temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm.rnnlm"]
    assert same_model(RNNLM.load(target), toy_model)


def _crc32(*a, **k):
    raise RuntimeError("crc32 failed")


def _fsync(fd):
    raise OSError(errno.EIO, "I/O error")


@pytest.mark.parametrize("module,name,failing,raised,match", [
    (rnnlm_fast.model_file.zlib, "crc32", _crc32, RuntimeError, "crc32 failed"),
    (rnnlm_fast._files.os, "fsync", _fsync, OSError, None),
], ids=["checksum", "fsync"])
def test_failing_step_during_save_keeps_previous_file(tmp_path, toy_model, monkeypatch, module, name, failing,
                                                      raised, match):
    target = tmp_path / "lm.rnnlm"
    toy_model.save(target)
    before = target.read_bytes()
    monkeypatch.setattr(module, name, failing)
    with pytest.raises(raised, match=match):
        RNNLM(toy_model.vocab, hidden=HIDDEN, seed=2).save(target)
    monkeypatch.undo()
    assert target.read_bytes() == before and no_temp_files(tmp_path) == []


def test_failing_vocabulary_save_keeps_previous_file(tmp_path, toy_vocab, monkeypatch):
    target = tmp_path / "vocab.txt"
    toy_vocab.save(target)
    before = target.read_bytes()
    fail_writes_after(monkeypatch, 50, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OSError):
        toy_vocab.with_classes(2).save(target)
    monkeypatch.undo()
    assert target.read_bytes() == before and no_temp_files(tmp_path) == []
    assert Vocabulary.load(target) == toy_vocab


def test_save_into_missing_directory(tmp_path, toy_model):
    with pytest.raises(OSError):
        toy_model.save(tmp_path / "no" / "such" / "dir" / "lm.rnnlm")
    assert list(tmp_path.iterdir()) == []


def test_saved_files_get_the_usual_permissions(tmp_path, corpus, valid_corpus):
    """Atomic writes go through a private temporary file; the result must not stay private."""
    model = trained(corpus, valid_corpus, max_epochs=1)
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "m.rnnlm")
        model.vocab.save(tmp_path / "v.txt")
    finally:
        os.umask(old)
    assert (tmp_path / "m.rnnlm").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "v.txt").stat().st_mode & 0o777 == 0o644


# --- SIGKILL in the middle of a save ---------------------------------------------------------
WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from rnnlm_fast import RNNLM, Vocabulary
    vocab = Vocabulary(["</s>"] + [f"w{i}" for i in range(3999)], [1] * 4000,
                       [i * 8 // 4000 for i in range(4000)])
    models = [RNNLM(vocab, hidden=192, seed=s) for s in (1, 2)]
    print("ready", flush=True)
    i = 0
    while True:
        models[i % 2].save(sys.argv[1])
        i += 1
""")


def test_model_save_killed_midway_leaves_old_or_new_file(tmp_path):
    target = tmp_path / "big.rnnlm"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    vocab = Vocabulary(["</s>"] + [f"w{i}" for i in range(3999)], [1] * 4000,
                       [i * 8 // 4000 for i in range(4000)])
    expected = {}
    for s in (1, 2):
        expected[s] = RNNLM(vocab, hidden=192, seed=s).weights()["word_w"].copy()
    rng = random.Random(99)
    seen = set()
    mid_write = 0
    for _ in range(40):  # until three kills have landed mid-write (how many do depends on the machine's load)
        if mid_write >= 3 and seen:
            break
        proc = subprocess.Popen([sys.executable, str(script), str(target)], stdout=subprocess.PIPE)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        if not target.exists():
            continue
        m = RNNLM.load(target)  # checksums pass: complete
        w = m.weights()["word_w"]
        which = [s for s in (1, 2) if np.array_equal(w, expected[s])]
        assert len(which) == 1
        seen.add(which[0])
        # Anything else is a temporary file of an interrupted write, never a second final name.
        assert (sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
                == ["big.rnnlm", "writer.py"])
        left = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert all(p.name.startswith(".big.rnnlm.") and p.name.endswith(".tmp") for p in left)
        mid_write += bool(left)
        for p in left:
            p.unlink()
    assert seen, "the writer never finished a file"
    assert mid_write >= 3, "the kills never landed in the middle of a write"
