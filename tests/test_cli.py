"""The ``rnnlm-fast`` command line, run in-process through ``rnnlm_fast.cli.main``.

Hermetic: generated corpora in ``tmp_path``, seeded, one thread, tiny models.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from corpora import sentences, write_text

import rnnlm_fast._files
from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.cli import main

HIDDEN = "8"
CLASSES = "5"
FLOAT_LINE = re.compile(r"^-?\d+\.\d{6}$")




def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, out: str, err: str, where: str, *needles: str) -> None:
    """Exit status 2 and one stderr line naming ``where`` (a path, or ``path:line:``) and
    holding each of ``needles`` outside that path (which contains the test's name)."""
    assert rc == 2, (rc, out, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("rnnlm-fast: error: "), err
    assert where in lines[0], (where, err)
    rest = lines[0].replace(where, "<where>")
    for n in needles:
        assert n in rest, (n, err)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    return {
        "dir": d,
        "train": write_text(d / "train.txt", sentences(300, seed=0)),
        "valid": write_text(d / "valid.txt", sentences(50, seed=1)),
        "test": write_text(d / "test.txt", sentences(40, seed=2)),
    }


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> Path:
    """A model trained through the API (the CLI's own training is tested separately)."""
    out = tmp_path_factory.mktemp("model") / "lm.rnnlm"
    vocab = Vocabulary.from_corpus(data["train"], classes=int(CLASSES))
    model = RNNLM(vocab, hidden=int(HIDDEN), seed=1)
    model.train(data["train"], data["valid"], max_epochs=2, threads=1, progress=False)
    model.save(out)
    return out


# --- vocab -----------------------------------------------------------------------------
def test_vocab(capsys, data, tmp_path):
    out = tmp_path / "vocab.txt"
    rc, stdout, err = run(capsys, "vocab", "--train", str(data["train"]), "--output", str(out),
                          "--classes", CLASSES, "--quiet")
    assert rc == 0, err
    v = Vocabulary.load(out)
    assert v == Vocabulary.from_corpus(data["train"], classes=int(CLASSES))
    assert f"{len(v)} words, {CLASSES} classes" in stdout and str(out) in stdout
    assert err == ""


def test_vocab_several_files_and_options(capsys, data, tmp_path):
    gz = tmp_path / "valid.txt.gz"
    gz.write_bytes(gzip.compress(data["valid"].read_bytes()))
    out = tmp_path / "vocab.txt"
    rc, _, err = run(capsys, "vocab", "--train", str(data["train"]), str(gz), "--output", str(out),
                     "--classes", "3", "--min-count", "35", "--class-method", "frequency", "--quiet")
    assert rc == 0, err
    want = Vocabulary.from_corpus([data["train"], data["valid"]], classes=3, min_count=35,
                                  class_method="frequency")
    assert Vocabulary.load(out) == want and want.unk_id >= 0


def test_vocab_refuses_to_overwrite(capsys, data, tmp_path):
    out = tmp_path / "vocab.txt"
    out.write_text("precious\n")
    rc, stdout, err = run(capsys, "vocab", "--train", str(data["train"]), "--output", str(out), "--quiet")
    assert_one_line_error(rc, stdout, err, str(out), "--overwrite")
    assert out.read_text() == "precious\n"
    rc, _, err = run(capsys, "vocab", "--train", str(data["train"]), "--output", str(out), "--quiet", "--overwrite")
    assert rc == 0, err
    assert Vocabulary.load(out).size > 20


# --- train -----------------------------------------------------------------------------
def test_train(capsys, data, tmp_path):
    out = tmp_path / "lm.rnnlm"
    hist = tmp_path / "history.json"
    rc, stdout, err = run(capsys, "train", "--train", str(data["train"]), "--valid", str(data["valid"]),
                          "--output", str(out), "--hidden", HIDDEN, "--classes", CLASSES, "--max-epochs", "2",
                          "--threads", "1", "--quiet", "--history-json", str(hist))
    assert rc == 0, err
    epochs = [line for line in stdout.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 2 and "valid ppl" in epochs[0]
    assert "trained 2 epochs" in stdout and str(out) in stdout
    model = RNNLM.load(out)
    assert model.hidden == int(HIDDEN) and model.n_classes == int(CLASSES) and len(model.history) == 2
    assert model.vocab == Vocabulary.from_corpus(data["train"], classes=int(CLASSES))
    history = json.loads(hist.read_text())
    assert [r["valid_ppl"] for r in history] == pytest.approx([r.valid_ppl for r in model.history])
    # The printed validation perplexity is the model's.
    printed = float(re.search(r"valid ppl\s+([\d.]+)", epochs[-1]).group(1))
    assert printed == pytest.approx(model.history[-1].valid_ppl, abs=0.01)
    # Same seed, one thread: the API trains the same weights.
    api = RNNLM(model.vocab, hidden=int(HIDDEN), seed=1)
    api.train(data["train"], data["valid"], max_epochs=2, threads=1, progress=False)
    for k, w in api.weights().items():
        np.testing.assert_array_equal(w, model.weights()[k])


def test_train_dropout_option_reaches_the_model(capsys, data, tmp_path):
    out = tmp_path / "lm.rnnlm"
    rc, _, err = run(capsys, "train", "--train", str(data["train"]), "--valid", str(data["valid"]),
                     "--output", str(out), "--hidden", HIDDEN, "--classes", CLASSES, "--max-epochs", "2",
                     "--cell", "gru", "--dropout", "0.25", "--quiet")
    assert rc == 0, err
    model = RNNLM.load(out)
    assert model.train_options["dropout"] == 0.25
    api = RNNLM(model.vocab, hidden=int(HIDDEN), cell="gru", seed=1)
    api.train(data["train"], data["valid"], max_epochs=2, dropout=0.25, progress=False)
    for k, w in api.weights().items():
        np.testing.assert_array_equal(w, model.weights()[k])
    rc, out_, err = run(capsys, "train", "--train", str(data["train"]), "--valid", str(data["valid"]),
                        "--output", str(tmp_path / "x.rnnlm"), "--dropout", "1.0", "--quiet")
    assert_one_line_error(rc, out_, err, "dropout", "[0, 1)")


def test_train_with_vocab_file(capsys, data, tmp_path):
    vocab_file = tmp_path / "v.txt"
    Vocabulary.from_corpus([data["train"], data["test"]], classes=3).save(vocab_file)
    out = tmp_path / "lm.rnnlm"
    rc, _, err = run(capsys, "train", "--train", str(data["train"]), "--valid", str(data["valid"]),
                     "--vocab", str(vocab_file), "--output", str(out), "--hidden", HIDDEN, "--max-epochs", "1",
                     "--threads", "1", "--quiet")
    assert rc == 0, err
    assert RNNLM.load(out).vocab == Vocabulary.load(vocab_file)


def test_train_refuses_to_overwrite(capsys, data, tmp_path):
    out = tmp_path / "lm.rnnlm"
    out.write_bytes(b"an older model")
    args = ["train", "--train", str(data["train"]), "--valid", str(data["valid"]), "--output", str(out),
            "--hidden", HIDDEN, "--classes", CLASSES, "--max-epochs", "1", "--threads", "1", "--quiet"]
    rc, stdout, err = run(capsys, *args)
    assert_one_line_error(rc, stdout, err, str(out), "--overwrite")
    assert stdout == ""  # refused before training
    assert out.read_bytes() == b"an older model"
    rc, _, err = run(capsys, *args, "--overwrite")
    assert rc == 0, err
    assert RNNLM.load(out).hidden == int(HIDDEN)
    assert [p.name for p in tmp_path.iterdir()] == ["lm.rnnlm"]


# --- eval ------------------------------------------------------------------------------
def test_eval(capsys, data, trained):
    rc, stdout, err = run(capsys, "eval", "--model", str(trained), "--text", str(data["test"]), "--quiet")
    assert rc == 0, err
    res = RNNLM.load(trained).perplexity(data["test"])
    assert f"PPL {res.ppl:.2f}" in stdout
    assert f"{res.sentences} sentences, {res.words} words" in stdout and str(data["test"]) in stdout
    assert res.sentences == 40 and res.oov == 0


@pytest.mark.parametrize("independent", [False, True])
def test_eval_per_word(capsys, data, trained, independent):
    args = ["eval", "--model", str(trained), "--text", str(data["test"]), "--per-word", "--quiet"]
    rc, stdout, err = run(capsys, *args, *(["--independent"] if independent else []))
    assert rc == 0, err
    lines = stdout.splitlines()
    per_word = [line.split("\t") for line in lines if "\t" in line]
    summary = [line for line in lines if "\t" not in line]
    expected_words = []
    for s in data["test"].read_text().splitlines():
        expected_words += s.split() + ["</s>"]
    assert [w for w, _ in per_word] == expected_words
    assert lines[: len(per_word)] == ["\t".join(p) for p in per_word]  # the words come first
    assert len(summary) == 2
    values = np.array([float(v) for _, v in per_word])
    assert np.all(values < 0)
    res = RNNLM.load(trained).perplexity(data["test"], independent=independent)
    assert values.sum() == pytest.approx(res.log10_prob, abs=1e-6 * len(values))
    assert 10 ** (-values.sum() / len(values)) == pytest.approx(res.ppl, rel=1e-5)
    assert f"PPL {res.ppl:.2f}" in summary[1]
    assert f"log10 prob {values.sum():.2f}" in summary[1]


def test_eval_independent_changes_the_result(capsys, data, trained):
    base = ["eval", "--model", str(trained), "--text", str(data["test"]), "--quiet"]
    _, carried, _ = run(capsys, *base)
    _, reset, _ = run(capsys, *base, "--independent")
    ppl = [float(re.search(r"PPL ([\d.]+)", s).group(1)) for s in (carried, reset)]
    assert ppl[0] != ppl[1]


def test_eval_with_matching_vocab(capsys, data, trained, tmp_path):
    vf = tmp_path / "v.txt"
    RNNLM.load(trained).vocab.save(vf)
    rc, stdout, err = run(capsys, "eval", "--model", str(trained), "--text", str(data["test"]), "--vocab", str(vf),
                          "--quiet")
    assert rc == 0 and "PPL" in stdout, err


def test_eval_with_mismatched_vocab(capsys, data, trained, tmp_path):
    vocab = RNNLM.load(trained).vocab
    words = list(vocab.words)
    words[2], words[3] = words[3], words[2]
    vf = tmp_path / "other_vocab.txt"
    Vocabulary(words, vocab.counts, vocab.word_class).save(vf)
    rc, stdout, err = run(capsys, "eval", "--model", str(trained), "--text", str(data["test"]), "--vocab", str(vf),
                          "--quiet")
    assert_one_line_error(rc, stdout, err, str(trained), "id 2", repr(words[2]), repr(vocab.words[2]))
    assert stdout == ""


# --- score -----------------------------------------------------------------------------
SCORE_LINES = [
    "the noun1 verb2 a noun3",
    "",
    "every adj2 noun4 verb0",
    "unknownword the noun1",
    "  the\tnoun2   verb1  ",
    "a noun5 verb5 x\u2028y",  # U+2028 and form feed are not line breaks
    "this noun6 \x0c verb6",
]


@pytest.mark.parametrize("source", ["file", "stdin", "crlf-file"])
def test_score(capsys, data, trained, tmp_path, monkeypatch, source):
    text = "\n".join(SCORE_LINES) + "\n"
    raw = text.encode("utf-8")
    if source == "crlf-file":
        raw = raw.replace(b"\n", b"\r\n")
    if source == "stdin":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
        where = "-"
    else:
        where = str(tmp_path / "sentences.txt")
        Path(where).write_bytes(raw)
    rc, stdout, err = run(capsys, "score", "--model", str(trained), "--text", where, "--quiet")
    assert rc == 0, err
    assert err == ""
    out_lines = stdout.split("\n")
    assert out_lines[-1] == ""  # newline-terminated
    out_lines = out_lines[:-1]
    assert len(out_lines) == len(SCORE_LINES)
    assert all(FLOAT_LINE.match(line) for line in out_lines), out_lines
    want = RNNLM.load(trained).score(SCORE_LINES)
    np.testing.assert_allclose([float(x) for x in out_lines], want, atol=1e-5, rtol=0)
    assert len(set(out_lines)) == len(out_lines)


def test_score_without_final_newline_and_options(capsys, trained, tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("the noun1 verb1\nunknownword noun2 verb2", encoding="utf-8")
    lines = ["the noun1 verb1", "unknownword noun2 verb2"]
    rc, stdout, err = run(capsys, "score", "--model", str(trained), "--text", str(p), "--oov-penalty", "-9",
                          "--carry-state")
    assert rc == 0, err
    got = [float(x) for x in stdout.split()]
    want = RNNLM.load(trained).score(lines, oov_penalty=-9.0, independent=False)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert len(got) == 2


def test_score_empty_input(capsys, trained, tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    rc, stdout, err = run(capsys, "score", "--model", str(trained), "--text", str(p))
    assert rc == 0 and stdout == "" and err == ""


# --- errors: exit code 2, one line naming the file -------------------------------------
def test_error_missing_training_corpus(capsys, data, tmp_path):
    missing = tmp_path / "nope.txt"
    rc, out, err = run(capsys, "train", "--train", str(missing), "--valid", str(data["valid"]),
                       "--output", str(tmp_path / "lm.rnnlm"), "--hidden", HIDDEN, "--quiet")
    assert_one_line_error(rc, out, err, str(missing), "not exist")
    assert not (tmp_path / "lm.rnnlm").exists()


def test_error_missing_validation_corpus(capsys, data, tmp_path):
    missing = tmp_path / "nope.txt"
    rc, out, err = run(capsys, "train", "--train", str(data["train"]), "--valid", str(missing),
                       "--output", str(tmp_path / "lm.rnnlm"), "--hidden", HIDDEN, "--classes", CLASSES, "--quiet")
    assert_one_line_error(rc, out, err, str(missing), "not exist")
    assert list(tmp_path.iterdir()) == []


def test_error_invalid_utf8_corpus(capsys, data, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"the noun1 verb1\nthe noun2 verb2\nthe \xff noun3\n")
    rc, out, err = run(capsys, "vocab", "--train", str(bad), "--output", str(tmp_path / "v.txt"), "--quiet")
    assert_one_line_error(rc, out, err, f"{bad}:3:", "column 5")
    assert not (tmp_path / "v.txt").exists()


@pytest.mark.parametrize("command", ["eval", "score"])
def test_error_text_file(capsys, trained, tmp_path, command):
    missing = tmp_path / "nope.txt"
    rc, out, err = run(capsys, command, "--model", str(trained), "--text", str(missing))
    assert_one_line_error(rc, out, err, str(missing), "not exist")
    assert out == ""
    rc, out, err = run(capsys, command, "--model", str(trained), "--text", str(tmp_path))
    assert_one_line_error(rc, out, err, str(tmp_path), "directory")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"the noun1 verb1\nthe noun2 verb2\nthe noun3 \xc3\x28 verb3\n")
    rc, out, err = run(capsys, command, "--model", str(trained), "--text", str(bad))
    assert_one_line_error(rc, out, err, f"{bad}:3:", "UTF-8", "column 11")
    assert out == ""


@pytest.mark.parametrize("command", ["eval", "score"])
@pytest.mark.parametrize("damage", ["missing", "truncated", "flipped", "text", "gzip"])
def test_error_model_file(capsys, data, trained, tmp_path, command, damage):
    p = tmp_path / "lm.rnnlm"
    raw = trained.read_bytes()
    content = {"truncated": raw[: len(raw) // 2], "flipped": raw[:-200] + bytes([raw[-200] ^ 1]) + raw[-199:],
               "text": b"hello world\n", "gzip": gzip.compress(raw)}.get(damage)
    if content is not None:
        p.write_bytes(content)
    rc, out, err = run(capsys, command, "--model", str(p), "--text", str(data["test"]))
    needle = {"missing": "not exist", "truncated": "truncated", "flipped": "checksum", "text": "text file",
              "gzip": "gzip"}[damage]
    assert_one_line_error(rc, out, err, str(p), needle)
    assert out == ""


def test_error_invalid_utf8_on_stdin(capsys, trained, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the noun1\nthe \xe2\x82 noun2\n")))
    rc, out, err = run(capsys, "score", "--model", str(trained), "--text", "-")
    assert_one_line_error(rc, out, err, "<stdin>:2:", "UTF-8", "column 5")
    assert out == ""


def test_error_disk_full_while_saving(capsys, data, tmp_path, monkeypatch):
    out = tmp_path / "lm.rnnlm"
    out.write_bytes(b"the previous model")
    real = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device", str(out))

    monkeypatch.setattr(rnnlm_fast._files.os, "fdopen", lambda fd, *a, **k: Full(real(fd, *a, **k)))
    rc, stdout, err = run(capsys, "train", "--train", str(data["train"]), "--valid", str(data["valid"]),
                          "--output", str(out), "--hidden", HIDDEN, "--classes", CLASSES, "--max-epochs", "1",
                          "--quiet", "--overwrite")
    monkeypatch.undo()
    assert_one_line_error(rc, stdout, err, str(out), "No space left")
    assert out.read_bytes() == b"the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["lm.rnnlm"]


def test_error_malformed_vocab_file(capsys, data, trained, tmp_path):
    vf = tmp_path / "v.txt"
    RNNLM.load(trained).vocab.save(vf)
    lines = vf.read_text().split("\n")
    lines[6] = "4\tnoun1\tmany\t1"
    vf.write_text("\n".join(lines))
    for argv in (["eval", "--model", str(trained), "--text", str(data["test"]), "--vocab", str(vf)],
                 ["train", "--train", str(data["train"]), "--valid", str(data["valid"]), "--vocab", str(vf),
                  "--output", str(tmp_path / "lm.rnnlm"), "--hidden", HIDDEN, "--quiet"]):
        rc, out, err = run(capsys, *argv)
        assert_one_line_error(rc, out, err, f"{vf}:7:", "integer")
    assert not (tmp_path / "lm.rnnlm").exists()


@pytest.mark.parametrize("command", ["vocab", "train"])
def test_error_output_directory_missing(capsys, data, tmp_path, command):
    out = tmp_path / "no" / "such" / "out.bin"
    argv = {"vocab": ["vocab", "--train", str(data["train"]), "--output", str(out), "--quiet"],
            "train": ["train", "--train", str(data["train"]), "--valid", str(data["valid"]), "--output", str(out),
                      "--hidden", HIDDEN, "--classes", CLASSES, "--max-epochs", "1", "--quiet"]}[command]
    rc, stdout, err = run(capsys, *argv)
    assert_one_line_error(rc, stdout, err, str(out), "does not exist")
    assert stdout == ""  # refused before any training
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option, value", [("--hidden", "0"), ("--lr", "-1"), ("--bptt", "0"),
                                           ("--threads", "-1"), ("--classes", "0")])
def test_error_bad_option(capsys, data, tmp_path, option, value):
    out = tmp_path / "lm.rnnlm"
    argv = ["train", "--train", str(data["train"]), "--valid", str(data["valid"]), "--output", str(out),
            "--hidden", HIDDEN, "--classes", CLASSES, "--max-epochs", "1", "--quiet", option, value]
    rc, stdout, err = run(capsys, *argv)
    assert_one_line_error(rc, stdout, err, option.lstrip("-"))
    assert not out.exists()


def test_error_divergence(capsys, data, tmp_path):
    out = tmp_path / "lm.rnnlm"
    rc, stdout, err = run(capsys, "train", "--train", str(data["train"]), "--valid", str(data["valid"]),
                          "--output", str(out), "--hidden", HIDDEN, "--classes", CLASSES, "--activation", "relu",
                          "--lr", "1e6", "--on-divergence", "raise", "--quiet")
    assert_one_line_error(rc, stdout, err, "diverged")
    assert not out.exists()


def test_argparse_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--hidden", "8"])
    assert e.value.code == 2
    assert "required" in capsys.readouterr().err


# --- demo ------------------------------------------------------------------------------
def test_demo(capsys, tmp_path):
    out = tmp_path / "demo.rnnlm"
    rc, stdout, err = run(capsys, "demo", "--max-epochs", "1", "--quiet", "--hidden", "16", "--threads", "1",
                          "--output", str(out))
    assert rc == 0, err
    assert "validation perplexity" in stdout
    ppl = float(re.search(r"validation perplexity ([\d.]+)", stdout).group(1))
    assert 1 < ppl < 2000 and math.isfinite(ppl)
    model = RNNLM.load(out)
    assert model.hidden == 16 and len(model.history) == 1
