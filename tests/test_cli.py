"""The ``rnnlm-fast`` command line (rnnlm_fast/cli.py), run in-process through ``main``: the
vocab, train (with checkpoints and --resume) and demo commands, and their errors: exit status 2
and one line naming the file.

Hermetic: generated corpora in ``tmp_path``, seeded, one thread, tiny models.
"""

from __future__ import annotations

import errno
import gzip
import json
import math
import re

import numpy as np
import pytest
from corpora import write_corpus
from helpers import CLASSES, HIDDEN, assert_one_line_error, fail_writes_after, run_main, stopped_run

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.cli import main


# --- vocab -----------------------------------------------------------------------------
def test_vocab(capsys, toy, tmp_path):
    out = tmp_path / "vocab.txt"
    rc, stdout, err = run_main(capsys, "vocab", "--train", str(toy["train"]), "--output", str(out),
                               "--classes", str(CLASSES), "--quiet")
    assert rc == 0, err
    v = Vocabulary.load(out)
    assert v == Vocabulary.from_corpus(toy["train"], classes=CLASSES)
    assert f"{len(v)} words, {CLASSES} classes" in stdout and str(out) in stdout
    assert err == ""


def test_vocab_several_files_and_options(capsys, toy, tmp_path):
    gz = tmp_path / "valid.txt.gz"
    gz.write_bytes(gzip.compress(toy["valid"].read_bytes()))
    out = tmp_path / "vocab.txt"
    rc, _, err = run_main(capsys, "vocab", "--train", str(toy["train"]), str(gz), "--output", str(out),
                          "--classes", "3", "--min-count", "35", "--class-method", "frequency", "--quiet")
    assert rc == 0, err
    want = Vocabulary.from_corpus([toy["train"], toy["valid"]], classes=3, min_count=35,
                                  class_method="frequency")
    assert Vocabulary.load(out) == want and want.unk_id >= 0


def test_vocab_refuses_to_overwrite(capsys, toy, tmp_path):
    out = tmp_path / "vocab.txt"
    out.write_text("precious\n")
    rc, stdout, err = run_main(capsys, "vocab", "--train", str(toy["train"]), "--output", str(out), "--quiet")
    assert_one_line_error(rc, stdout, err, str(out), "--overwrite")
    assert out.read_text() == "precious\n"
    rc, _, err = run_main(capsys, "vocab", "--train", str(toy["train"]), "--output", str(out), "--quiet",
                          "--overwrite")
    assert rc == 0, err
    assert Vocabulary.load(out).size > 20


# --- train -----------------------------------------------------------------------------
def test_train(capsys, toy, tmp_path):
    out = tmp_path / "lm.rnnlm"
    hist = tmp_path / "history.json"
    rc, stdout, err = run_main(capsys, "train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
                               "--output", str(out), "--hidden", str(HIDDEN), "--classes", str(CLASSES),
                               "--max-epochs", "2", "--threads", "1", "--quiet", "--history-json", str(hist))
    assert rc == 0, err
    epochs = [line for line in stdout.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 2 and "valid ppl" in epochs[0]
    assert "trained 2 epochs" in stdout and str(out) in stdout
    model = RNNLM.load(out)
    assert model.hidden == HIDDEN and model.n_classes == CLASSES and len(model.history) == 2
    assert model.vocab == Vocabulary.from_corpus(toy["train"], classes=CLASSES)
    history = json.loads(hist.read_text())
    assert [r["valid_ppl"] for r in history] == pytest.approx([r.valid_ppl for r in model.history])
    # The printed validation perplexity is the model's.
    printed = float(re.search(r"valid ppl\s+([\d.]+)", epochs[-1]).group(1))
    assert printed == pytest.approx(model.history[-1].valid_ppl, abs=0.01)
    # Same seed, one thread: the API trains the same weights.
    api = RNNLM(model.vocab, hidden=HIDDEN, seed=1)
    api.train(toy["train"], toy["valid"], max_epochs=2, threads=1, progress=False)
    for k, w in api.weights().items():
        np.testing.assert_array_equal(w, model.weights()[k])


def test_train_dropout_option_reaches_the_model(capsys, toy, tmp_path):
    out = tmp_path / "lm.rnnlm"
    rc, _, err = run_main(capsys, "train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
                          "--output", str(out), "--hidden", str(HIDDEN), "--classes", str(CLASSES),
                          "--max-epochs", "2", "--cell", "gru", "--dropout", "0.25", "--quiet")
    assert rc == 0, err
    model = RNNLM.load(out)
    assert model.train_options["dropout"] == 0.25
    api = RNNLM(model.vocab, hidden=HIDDEN, cell="gru", seed=1)
    api.train(toy["train"], toy["valid"], max_epochs=2, dropout=0.25, progress=False)
    for k, w in api.weights().items():
        np.testing.assert_array_equal(w, model.weights()[k])
    rc, out_, err = run_main(capsys, "train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
                             "--output", str(tmp_path / "x.rnnlm"), "--dropout", "1.0", "--quiet")
    assert_one_line_error(rc, out_, err, "dropout", "[0, 1)")


def test_train_with_vocab_file(capsys, toy, tmp_path):
    vocab_file = tmp_path / "v.txt"
    Vocabulary.from_corpus([toy["train"], toy["test"]], classes=3).save(vocab_file)
    out = tmp_path / "lm.rnnlm"
    rc, _, err = run_main(capsys, "train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
                          "--vocab", str(vocab_file), "--output", str(out), "--hidden", str(HIDDEN),
                          "--max-epochs", "1", "--threads", "1", "--quiet")
    assert rc == 0, err
    assert RNNLM.load(out).vocab == Vocabulary.load(vocab_file)


def test_train_refuses_to_overwrite(capsys, toy, tmp_path):
    out = tmp_path / "lm.rnnlm"
    out.write_bytes(b"an older model")
    args = ["train", "--train", str(toy["train"]), "--valid", str(toy["valid"]), "--output", str(out),
            "--hidden", str(HIDDEN), "--classes", str(CLASSES), "--max-epochs", "1", "--threads", "1",
            "--quiet"]
    rc, stdout, err = run_main(capsys, *args)
    assert_one_line_error(rc, stdout, err, str(out), "--overwrite")
    assert stdout == ""  # refused before training
    assert out.read_bytes() == b"an older model"
    rc, _, err = run_main(capsys, *args, "--overwrite")
    assert rc == 0, err
    assert RNNLM.load(out).hidden == HIDDEN
    assert [p.name for p in tmp_path.iterdir()] == ["lm.rnnlm"]


def train_args(toy, out, *extra: str) -> list[str]:
    return ["train", "--train", str(toy["train"]), "--valid", str(toy["valid"]), "--output", str(out),
            "--hidden", str(HIDDEN), "--classes", str(CLASSES), "--max-epochs", "1", "--threads", "1",
            "--quiet", *extra]


def test_history_json_in_a_missing_directory_is_refused_before_training(capsys, toy, tmp_path):
    out, hist = tmp_path / "lm.rnnlm", tmp_path / "nodir" / "h.json"
    rc, stdout, err = run_main(capsys, *train_args(toy, out, "--history-json", str(hist)))
    assert_one_line_error(rc, stdout, err, str(hist), "does not exist")
    assert stdout == "" and list(tmp_path.iterdir()) == []  # no training, no model written


def test_history_json_is_not_overwritten_silently(capsys, toy, tmp_path):
    out, hist = tmp_path / "lm.rnnlm", tmp_path / "h.json"
    hist.write_text("precious\n")
    rc, stdout, err = run_main(capsys, *train_args(toy, out, "--history-json", str(hist)))
    assert_one_line_error(rc, stdout, err, str(hist), "--history-json", "--overwrite")
    assert stdout == "" and hist.read_text() == "precious\n" and not out.exists()
    rc, _, err = run_main(capsys, *train_args(toy, out, "--history-json", str(hist), "--overwrite"))
    assert rc == 0, err
    assert [r["epoch"] for r in json.loads(hist.read_text())] == [1]
    rc, stdout, err = run_main(capsys, *train_args(toy, tmp_path / "b.rnnlm", "--history-json", str(out)))
    assert rc == 2 and "--history-json" in err


def test_ctrl_c_while_reading_the_data_does_not_promise_a_checkpoint(capsys, toy, tmp_path, monkeypatch):
    """Interrupted before the run wrote its first checkpoint: nothing to --resume."""
    import rnnlm_fast.encoding as encoding
    import rnnlm_fast.training as training

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "lm.rnnlm"
    monkeypatch.setattr(encoding, "encode_file", interrupted)
    rc, _, err = run_main(capsys, *train_args(toy, out))
    assert rc == 130 and "--resume" not in err and "rerun to train" in err, err
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    # Interrupted after it: the checkpoint exists and the message says how to continue.
    monkeypatch.setattr(training.Trainer, "run", interrupted)
    rc, _, err = run_main(capsys, *train_args(toy, out))
    ckpt = tmp_path / "lm.rnnlm.ckpt"
    assert rc == 130 and f"rerun with --resume to continue from '{ckpt}'" in err, err
    assert ckpt.exists()


@pytest.mark.parametrize("position", ["before", "after"])
def test_verbose_before_or_after_the_subcommand(capsys, toy, tmp_path, monkeypatch, position):
    import logging

    levels = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: levels.append(kw["level"]))
    out = tmp_path / "vocab.txt"
    argv = ["vocab", "--train", str(toy["train"]), "--output", str(out), "--quiet"]
    rc, _, err = run_main(capsys, *(["-v", *argv] if position == "before" else [*argv, "--verbose"]))
    assert rc == 0, err
    rc, _, err = run_main(capsys, *(["-v", "options"] if position == "before" else ["options", "-v"]))
    assert rc == 0, err
    rc, _, err = run_main(capsys, "options")
    assert levels == [logging.INFO, logging.INFO, logging.WARNING]


# --- train: checkpoints and --resume -----------------------------------------------------
def test_cli_checkpoint_is_never_reused_or_replaced_silently(tmp_path, capsys):
    train = write_corpus(tmp_path / "train.txt", 150, seed=0)
    valid = write_corpus(tmp_path / "valid.txt", 30, seed=1)
    out = tmp_path / "m.rnnlm"
    base = ["train", "--train", str(train), "--valid", str(valid), "--output", str(out), "--hidden", "8",
            "--classes", "4", "--max-epochs", "3", "--quiet"]
    assert main(base + ["--resume"]) == 2
    assert "does not exist" in capsys.readouterr().err
    ckpt = tmp_path / "m.rnnlm.ckpt"
    ckpt.write_bytes(b"left over")
    assert main(base) == 2
    assert "--resume" in capsys.readouterr().err and ckpt.read_bytes() == b"left over"
    assert main(base + ["--resume"]) == 2  # not a model file: a clear error, nothing trained
    assert "not an rnnlm-fast model" in capsys.readouterr().err and not out.exists()
    assert main(base + ["--overwrite"]) == 0  # start over
    assert out.exists() and not ckpt.exists()
    assert main(base + ["--resume", "--no-checkpoint"]) == 2
    assert main(base + ["--checkpoint", str(out), "--overwrite"]) == 2
    assert "same file" in capsys.readouterr().err
    assert main(base + ["--no-checkpoint", "--overwrite"]) == 0 and not ckpt.exists()


@pytest.mark.parametrize("state", [[1], {"options": ["hidden"]}])
def test_cli_resume_from_a_checkpoint_with_a_malformed_state(tmp_path, run_data, capsys, state):
    """--resume reads the checkpoint's options before anything else: a malformed state is one
    line naming the file (a list there gave an AttributeError)."""
    from test_model_file import rewrite_header

    train, valid, vocab = run_data
    ckpt = tmp_path / "m.rnnlm.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt)
    ckpt.write_bytes(rewrite_header(ckpt.read_bytes(), lambda h: h.__setitem__("checkpoint", state)))
    rc, stdout, err = run_main(capsys, "train", "--train", str(train), "--valid", str(valid), "--output",
                               str(tmp_path / "m.rnnlm"), "--resume", "--hidden", "8", "--quiet")
    assert_one_line_error(rc, stdout, err, str(ckpt), "checkpoint")


@pytest.mark.parametrize("spelling,expected", [([], None), (["--threads", "2"], 2), (["--threads=2"], 2),
                                               (["--thread", "2"], 2)])
def test_cli_resume_overrides_threads_only_when_given(tmp_path, run_data, monkeypatch, spelling, expected):
    train, valid, vocab = run_data
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, tmp_path / "m.rnnlm.ckpt")
    seen = []
    real = RNNLM.resume.__func__

    def spy(cls, *args, **kw):
        seen.append(kw.get("threads"))
        return real(cls, *args, **kw)

    monkeypatch.setattr(RNNLM, "resume", classmethod(spy))
    argv = ["train", "--train", str(train), "--valid", str(valid), "--output", str(tmp_path / "m.rnnlm"),
            "--resume", "--quiet"] + spelling
    assert main(argv) == 0
    assert seen == [expected]


def test_cli_resume_refuses_run_options_that_differ(tmp_path, run_data, capsys):
    """--resume continues the checkpoint's run: a model or training option given with another
    value (any spelling) is refused with the checkpoint named, the same value is accepted."""
    train, valid, vocab = run_data
    ckpt = tmp_path / "m.rnnlm.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt)
    base = ["train", "--train", str(train), "--valid", str(valid), "--output", str(tmp_path / "m.rnnlm"),
            "--resume", "--quiet"]
    refused = [(["--hidden", "16"], "--hidden 16 differs"), (["--hid=16"], "--hidden 16 differs"),
               (["--cell", "gru"], "--cell gru differs"), (["--lr", "0.3"], "--lr 0.3 differs"),
               (["--seed", "4"], "--seed 4 differs"), (["--dropout", "0.1"], "--dropout 0.1 differs"),
               (["--min-count", "2"], "--min-count cannot be given"),
               (["--backward"], "--direction backward differs")]
    for extra, message in refused:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "m.rnnlm.ckpt" in err, err
    assert ckpt.exists() and not (tmp_path / "m.rnnlm").exists()
    assert main(base + ["--hidden", "8", "--seed", "3", "--threads", "1"]) == 0  # the run's own values
    assert RNNLM.load(tmp_path / "m.rnnlm").hidden == 8


def test_cli_resume_with_backward_checks_the_checkpoint(corpus, valid_corpus, tmp_path, capsys):
    """--backward on --resume must match the checkpoint's model (read from its header only)."""
    ckpt = tmp_path / "f.rnnlm.ckpt"
    RNNLM(Vocabulary.from_corpus(corpus, classes=5), hidden=8).train(
        corpus, valid_corpus, max_epochs=1, threads=1, progress=False, checkpoint=ckpt)
    assert main(["train", "--train", str(corpus), "--valid", str(valid_corpus),
                 "--output", str(tmp_path / "f.rnnlm"), "--resume", "--backward", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--direction backward differs" in err and "(forward)" in err and "f.rnnlm.ckpt" in err
    # a backward checkpoint resumes with or without the flag
    bckpt = tmp_path / "b.rnnlm.ckpt"
    RNNLM(Vocabulary.from_corpus(corpus, classes=5), hidden=8, direction="backward").train(
        corpus, valid_corpus, max_epochs=1, threads=1, progress=False, checkpoint=bckpt)
    assert main(["train", "--train", str(corpus), "--valid", str(valid_corpus),
                 "--output", str(tmp_path / "b.rnnlm"), "--resume", "--backward", "--quiet"]) == 0
    assert RNNLM.load(tmp_path / "b.rnnlm").direction == "backward"


# --- errors: exit code 2, one line naming the file -------------------------------------
def test_error_missing_training_corpus(capsys, toy, tmp_path):
    missing = tmp_path / "nope.txt"
    rc, out, err = run_main(capsys, "train", "--train", str(missing), "--valid", str(toy["valid"]),
                            "--output", str(tmp_path / "lm.rnnlm"), "--hidden", str(HIDDEN), "--quiet")
    assert_one_line_error(rc, out, err, str(missing), "not exist")
    assert not (tmp_path / "lm.rnnlm").exists()


def test_error_missing_validation_corpus(capsys, toy, tmp_path):
    missing = tmp_path / "nope.txt"
    rc, out, err = run_main(capsys, "train", "--train", str(toy["train"]), "--valid", str(missing),
                            "--output", str(tmp_path / "lm.rnnlm"), "--hidden", str(HIDDEN),
                            "--classes", str(CLASSES), "--quiet")
    assert_one_line_error(rc, out, err, str(missing), "not exist")
    assert list(tmp_path.iterdir()) == []


def test_error_invalid_utf8_corpus(capsys, toy, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"the noun1 verb1\nthe noun2 verb2\nthe \xff noun3\n")
    rc, out, err = run_main(capsys, "vocab", "--train", str(bad), "--output", str(tmp_path / "v.txt"),
                            "--quiet")
    assert_one_line_error(rc, out, err, f"{bad}:3:", "column 5")
    assert not (tmp_path / "v.txt").exists()


def test_error_disk_full_while_saving(capsys, toy, tmp_path, monkeypatch):
    out = tmp_path / "lm.rnnlm"
    out.write_bytes(b"the previous model")
    fail_writes_after(monkeypatch, 0, OSError(errno.ENOSPC, "No space left on device", str(out)))
    rc, stdout, err = run_main(capsys, "train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
                               "--output", str(out), "--hidden", str(HIDDEN), "--classes", str(CLASSES),
                               "--max-epochs", "1", "--quiet", "--overwrite")
    monkeypatch.undo()
    assert_one_line_error(rc, stdout, err, str(out), "No space left")
    assert out.read_bytes() == b"the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["lm.rnnlm"]


def test_error_malformed_vocab_file(capsys, toy, toy_lm, tmp_path):
    vf = tmp_path / "v.txt"
    RNNLM.load(toy_lm).vocab.save(vf)
    lines = vf.read_text().split("\n")
    lines[6] = "4\tnoun1\tmany\t1"
    vf.write_text("\n".join(lines))
    for argv in (["eval", "--model", str(toy_lm), "--text", str(toy["test"]), "--vocab", str(vf)],
                 ["train", "--train", str(toy["train"]), "--valid", str(toy["valid"]), "--vocab", str(vf),
                  "--output", str(tmp_path / "lm.rnnlm"), "--hidden", str(HIDDEN), "--quiet"]):
        rc, out, err = run_main(capsys, *argv)
        assert_one_line_error(rc, out, err, f"{vf}:7:", "integer")
    assert not (tmp_path / "lm.rnnlm").exists()


@pytest.mark.parametrize("command", ["vocab", "train"])
def test_error_output_directory_missing(capsys, toy, tmp_path, command):
    out = tmp_path / "no" / "such" / "out.bin"
    argv = {"vocab": ["vocab", "--train", str(toy["train"]), "--output", str(out), "--quiet"],
            "train": ["train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
                      "--output", str(out), "--hidden", str(HIDDEN), "--classes", str(CLASSES),
                      "--max-epochs", "1", "--quiet"]}[command]
    rc, stdout, err = run_main(capsys, *argv)
    assert_one_line_error(rc, stdout, err, str(out), "does not exist")
    assert stdout == ""  # refused before any training
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option, value", [("--hidden", "0"), ("--lr", "-1"), ("--bptt", "0"),
                                           ("--threads", "-1"), ("--classes", "0")])
def test_error_bad_option(capsys, toy, tmp_path, option, value):
    out = tmp_path / "lm.rnnlm"
    argv = ["train", "--train", str(toy["train"]), "--valid", str(toy["valid"]), "--output", str(out),
            "--hidden", str(HIDDEN), "--classes", str(CLASSES), "--max-epochs", "1", "--quiet", option, value]
    rc, stdout, err = run_main(capsys, *argv)
    assert_one_line_error(rc, stdout, err, option.lstrip("-"))
    assert not out.exists()


def test_error_divergence(capsys, toy, tmp_path):
    out = tmp_path / "lm.rnnlm"
    rc, stdout, err = run_main(capsys, "train", "--train", str(toy["train"]), "--valid", str(toy["valid"]),
                               "--output", str(out), "--hidden", str(HIDDEN), "--classes", str(CLASSES),
                               "--cell", "relu", "--lr", "1e6", "--on-divergence", "raise", "--quiet")
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
    out.write_bytes(b"an older model")
    argv = ["demo", "--max-epochs", "1", "--quiet", "--hidden", "16", "--threads", "1", "--output", str(out)]
    rc, stdout, err = run_main(capsys, *argv)
    assert_one_line_error(rc, stdout, err, str(out), "--overwrite")  # refused before training
    assert "vocabulary:" not in stdout and out.read_bytes() == b"an older model"
    rc, stdout, err = run_main(capsys, *argv, "--overwrite")
    assert rc == 0, err
    assert "validation perplexity" in stdout
    ppl = float(re.search(r"validation perplexity ([\d.]+)", stdout).group(1))
    assert 1 < ppl < 2000 and math.isfinite(ppl)
    model = RNNLM.load(out)
    assert model.hidden == 16 and len(model.history) == 1
