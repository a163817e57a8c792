"""Checkpoints and resume: bit-identical continuation, refusal of different data, what a
checkpoint holds, and crash safety of checkpoint and model writes under SIGKILL.

Hermetic: generated corpora in ``tmp_path``, one thread, seeded, hidden 8.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from corpora import write_corpus

from rnnlm_fast import RNNLM, CheckpointError, ModelFormatError, Vocabulary
from rnnlm_fast.checkpoint import load_checkpoint
from rnnlm_fast.model_file import read_model

OPTS = dict(lr=0.1, bptt=3, bptt_block=5, min_improvement=1.0, max_epochs=8, threads=1)


class Stop(Exception):
    pass


def stop_after(n: int):
    seen = []

    def callback(record):
        seen.append(record)
        if len(seen) == n:
            raise Stop

    return callback


def weights_equal(a: RNNLM, b: RNNLM) -> bool:
    wa, wb = a.weights(), b.weights()
    return wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


@pytest.fixture
def data(tmp_path):
    train = write_corpus(tmp_path / "train.txt", 150, seed=0)
    valid = write_corpus(tmp_path / "valid.txt", 30, seed=1)
    return train, valid, Vocabulary.from_corpus(train, classes=4)


@pytest.mark.parametrize("stop_at,dropout", [(1, 0.0), (3, 0.0), (6, 0.0), (3, 0.25)])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, data, stop_at, dropout):
    train, valid, vocab = data
    opts = {**OPTS, "dropout": dropout}
    full = RNNLM(vocab, hidden=8, seed=3)
    full.train(train, valid, progress=False, **opts)
    ckpt = tmp_path / "run.ckpt"
    part = RNNLM(vocab, hidden=8, seed=3)
    with pytest.raises(Stop):
        part.train(train, valid, progress=False, checkpoint=ckpt, callback=stop_after(stop_at), **opts)
    resumed = RNNLM.resume(ckpt, train, valid, progress=False)
    assert weights_equal(resumed, full)
    assert [(r.epoch, r.lr, r.valid_entropy, r.kept) for r in resumed.history] == \
           [(r.epoch, r.lr, r.valid_entropy, r.kept) for r in full.history]
    # The final checkpoint says "done": resuming again trains nothing and changes nothing.
    again = RNNLM.resume(ckpt, train, valid, progress=False)
    assert weights_equal(again, full) and len(again.history) == len(full.history)


def test_checkpoint_is_a_model_file_with_training_state(tmp_path, data):
    train, valid, vocab = data
    ckpt = tmp_path / "run.ckpt"
    model = RNNLM(vocab, hidden=8, seed=3)
    with pytest.raises(Stop):
        model.train(train, valid, progress=False, checkpoint=ckpt, callback=stop_after(2), **OPTS)
    as_model = RNNLM.load(ckpt)
    assert weights_equal(as_model, model) and len(as_model.history) == 2
    header, _ = read_model(ckpt)
    state = header["checkpoint"]
    assert state["schedule"]["epoch"] == 2 and state["schedule"]["done"] is False
    assert state["schedule"]["previous_logprob"] < 0 and state["schedule"]["lr"] > 0
    assert state["options"]["max_epochs"] == 8 and state["options"]["threads"] == 1
    assert state["rollbacks"] == 0 and state["has_good"] is False
    fp = state["data"]["train"]
    assert fp["file"]["size"] == train.stat().st_size
    assert fp["file"]["sha256"] == hashlib.sha256(train.read_bytes()).hexdigest()
    assert state["data"]["valid"]["words"] > 0
    # A plain model is not a checkpoint.
    model.save(tmp_path / "plain.rnnlm")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        RNNLM.resume(tmp_path / "plain.rnnlm", train, valid, progress=False)


def test_resume_refuses_different_data(tmp_path, data):
    train, valid, vocab = data
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(Stop):
        RNNLM(vocab, hidden=8, seed=3).train(train, valid, progress=False, checkpoint=ckpt,
                                            callback=stop_after(1), **OPTS)
    other = tmp_path / "other.txt"
    other.write_bytes(train.read_bytes().replace(b"w1 ", b"w2 ", 1))
    with pytest.raises(CheckpointError) as e:
        RNNLM.resume(ckpt, other, valid, progress=False)
    assert "training data differs" in str(e.value) and str(other) in str(e.value)
    with pytest.raises(CheckpointError, match="validation data differs"):
        RNNLM.resume(ckpt, train, other, progress=False)
    # Same bytes under another name are the same data.
    copy = tmp_path / "copy.txt"
    copy.write_bytes(train.read_bytes())
    RNNLM.resume(ckpt, copy, valid, progress=False)
    # Encoded data is compared by the fingerprint of its ids.
    m = RNNLM.load(ckpt)
    with pytest.raises(CheckpointError, match="encodes differently"):
        RNNLM.resume(ckpt, m.encode_file(valid), valid, progress=False)


def test_corrupt_checkpoint_is_refused(tmp_path, data):
    train, valid, vocab = data
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(Stop):
        RNNLM(vocab, hidden=8, seed=3).train(train, valid, progress=False, checkpoint=ckpt,
                                            callback=stop_after(1), **OPTS)
    b = bytearray(ckpt.read_bytes())
    b[len(b) // 2] ^= 0x40
    ckpt.write_bytes(bytes(b))
    with pytest.raises(ModelFormatError, match="checksum|corrupt"):
        RNNLM.resume(ckpt, train, valid, progress=False)


def test_checkpoint_keeps_last_good_weights_and_rollbacks_after_divergence(tmp_path, data):
    train, valid, vocab = data
    ckpt = tmp_path / "run.ckpt"
    opts = dict(OPTS, lr=1e4, max_epochs=3, max_rollbacks=10)
    full = RNNLM(vocab, hidden=8, seed=1, cell="relu")
    full.train(train, valid, progress=False, **opts)
    n_div = sum(r.diverged for r in full.history)
    assert n_div >= 2
    # A diverged attempt carries the number of the epoch it attempted, as does the retry after it;
    # each rollback halves the rate and counts against max_rollbacks for the whole run.
    assert [r.epoch for r in full.history[:n_div + 1]] == [1] * (n_div + 1)
    assert [r.lr for r in full.history[:n_div + 1]] == [1e4 / 2**i for i in range(n_div + 1)]
    part = RNNLM(vocab, hidden=8, seed=1, cell="relu")
    with pytest.raises(Stop):
        part.train(train, valid, progress=False, checkpoint=ckpt, callback=stop_after(1), **opts)
    _, state = load_checkpoint(RNNLM, ckpt)
    assert state.rollbacks == sum(r.diverged for r in part.history) >= 1
    assert state.good is None  # at an epoch boundary the current weights are the last good ones
    resumed = RNNLM.resume(ckpt, train, valid, progress=False)
    assert weights_equal(resumed, full)
    assert [r.diverged for r in resumed.history] == [r.diverged for r in full.history]


# --- SIGKILL ---------------------------------------------------------------------------
def run_cli(args: list[str], *, kill_after: float | None = None) -> int | None:
    """Run ``rnnlm-fast`` in a subprocess; SIGKILL it after ``kill_after`` seconds. Returns its
    exit status, or None when it was killed."""
    proc = subprocess.Popen([sys.executable, "-m", "rnnlm_fast.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None
    finally:
        err = proc.stderr.read().decode()
        proc.stderr.close()
    assert proc.returncode == 0, err
    return proc.returncode


def test_training_killed_ten_times_reaches_the_uninterrupted_model(tmp_path):
    train = write_corpus(tmp_path / "train.txt", 30000, seed=0)
    valid = write_corpus(tmp_path / "valid.txt", 100, seed=1)
    common = ["train", "--train", str(train), "--valid", str(valid), "--hidden", "8", "--classes", "4",
              "--max-epochs", "30", "--min-improvement", "1.0", "--seed", "5", "--threads", "1", "--quiet"]
    start = time.perf_counter()
    run_cli(["--version"])
    startup = time.perf_counter() - start
    run_cli(common + ["--output", str(tmp_path / "ref.rnnlm"), "--no-checkpoint"])
    training = time.perf_counter() - start - 2 * startup
    out, ckpt = tmp_path / "out.rnnlm", tmp_path / "out.rnnlm.ckpt"
    rng = random.Random(1234)
    kills = 0
    for attempt in range(40):
        extra = ["--resume"] if ckpt.exists() else []
        # Kill somewhere between start-up and the end of an uninterrupted run.
        # Kill at a random moment, from start-up to a twelfth of the training time after it, so that ten
        # kills leave work to resume; some kills come before the first checkpoint.
        delay = rng.uniform(0.5 * startup, startup + training / 12) if kills < 10 else None
        if run_cli(common + ["--output", str(out)] + extra, kill_after=delay) is None:
            kills += 1
            assert not out.exists()
            if ckpt.exists():  # always a complete checkpoint
                load_checkpoint(RNNLM, ckpt)
            continue
        break
    assert kills == 10 and attempt == 10, (kills, attempt)
    assert out.exists() and not ckpt.exists()  # a finished run removes its checkpoint
    assert not list(tmp_path.glob(".*.tmp"))
    ref, got = RNNLM.load(tmp_path / "ref.rnnlm"), RNNLM.load(out)
    assert got.perplexity(valid).ppl == pytest.approx(ref.perplexity(valid).ppl, rel=0.01)
    assert weights_equal(got, ref)  # one thread: identical, not just close


# --- command line ----------------------------------------------------------------------
def test_cli_checkpoint_is_never_reused_or_replaced_silently(tmp_path, capsys):
    from rnnlm_fast.cli import main

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


@pytest.mark.parametrize("spelling,expected", [([], None), (["--threads", "2"], 2), (["--threads=2"], 2),
                                               (["--thread", "2"], 2)])
def test_cli_resume_overrides_threads_only_when_given(tmp_path, data, monkeypatch, spelling, expected):
    from rnnlm_fast.cli import main

    train, valid, vocab = data
    ckpt = tmp_path / "m.rnnlm.ckpt"
    with pytest.raises(Stop):
        RNNLM(vocab, hidden=8, seed=3).train(train, valid, progress=False, checkpoint=ckpt, callback=stop_after(1),
                                             **OPTS)
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


def test_cli_resume_refuses_run_options_that_differ(tmp_path, data, capsys):
    """--resume continues the checkpoint's run: a model or training option given with another
    value (any spelling) is refused with the checkpoint named, the same value is accepted."""
    from rnnlm_fast.cli import main

    train, valid, vocab = data
    ckpt = tmp_path / "m.rnnlm.ckpt"
    with pytest.raises(Stop):
        RNNLM(vocab, hidden=8, seed=3).train(train, valid, progress=False, checkpoint=ckpt, callback=stop_after(1),
                                             **OPTS)
    base = ["train", "--train", str(train), "--valid", str(valid), "--output", str(tmp_path / "m.rnnlm"),
            "--resume", "--quiet"]
    refused = [(["--hidden", "16"], "--hidden 16 differs"), (["--hid=16"], "--hidden 16 differs"),
               (["--cell", "gru"], "--cell gru differs"), (["--lr", "0.3"], "--lr 0.3 differs"),
               (["--seed", "4"], "--seed 4 differs"), (["--dropout", "0.1"], "--dropout 0.1 differs"),
               (["--min-count", "2"], "--min-count cannot be given"), (["--backward"], "--direction backward differs")]
    for extra, message in refused:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "m.rnnlm.ckpt" in err, err
    assert ckpt.exists() and not (tmp_path / "m.rnnlm").exists()
    assert main(base + ["--hidden", "8", "--seed", "3", "--threads", "1"]) == 0  # the run's own values
    assert RNNLM.load(tmp_path / "m.rnnlm").hidden == 8
