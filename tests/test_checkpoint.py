"""Checkpoints and resume (rnnlm_fast/checkpoint.py, training.resume): bit-identical
continuation, refusal of different data, what a checkpoint holds, rollbacks carried over, and
a training run killed ten times reaching the uninterrupted model.

Hermetic: generated corpora in ``tmp_path``, one thread, seeded, hidden 8.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import time

import pytest
from corpora import write_corpus
from helpers import RUN_OPTS, same_model, stopped_run

from rnnlm_fast import RNNLM, CheckpointError, ModelFormatError
from rnnlm_fast.checkpoint import load_checkpoint
from rnnlm_fast.model_file import read_model


@pytest.mark.parametrize("stop_at,dropout", [(1, 0.0), (3, 0.0), (6, 0.0), (3, 0.25)])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, run_data, stop_at, dropout):
    train, valid, vocab = run_data
    full = RNNLM(vocab, hidden=8, seed=3)
    full.train(train, valid, progress=False, **{**RUN_OPTS, "dropout": dropout})
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt, stop_at, dropout=dropout)
    resumed = RNNLM.resume(ckpt, train, valid, progress=False)
    assert same_model(resumed, full)
    assert [(r.epoch, r.lr, r.valid_entropy, r.kept) for r in resumed.history] == \
           [(r.epoch, r.lr, r.valid_entropy, r.kept) for r in full.history]
    # The final checkpoint says "done": resuming again trains nothing and changes nothing.
    again = RNNLM.resume(ckpt, train, valid, progress=False)
    assert same_model(again, full) and len(again.history) == len(full.history)


def test_checkpoint_is_a_model_file_with_training_state(tmp_path, run_data):
    train, valid, vocab = run_data
    ckpt = tmp_path / "run.ckpt"
    model = stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt, 2)
    as_model = RNNLM.load(ckpt)
    assert same_model(as_model, model) and len(as_model.history) == 2
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


def test_resume_refuses_different_data(tmp_path, run_data):
    train, valid, vocab = run_data
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt)
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


def test_corrupt_checkpoint_is_refused(tmp_path, run_data):
    train, valid, vocab = run_data
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt)
    b = bytearray(ckpt.read_bytes())
    b[len(b) // 2] ^= 0x40
    ckpt.write_bytes(bytes(b))
    with pytest.raises(ModelFormatError, match="checksum|corrupt"):
        RNNLM.resume(ckpt, train, valid, progress=False)


@pytest.mark.parametrize("field, value", [
    (["train", "file"], [1]), (["train", "file"], None), (["train", "file", "size"], "12"),
    (["valid", "file", "sha256"], 5), (["valid", "encoded_sha256"], ["x"]), (["train", "words"], 1.5),
    (["train", "path"], {}),
])
def test_malformed_data_fingerprints_are_refused(tmp_path, run_data, field, value):
    """Every field the resume reads from the checkpoint has its type checked first (a list
    where the file fingerprint belongs gave an AttributeError)."""
    from test_model_file import rewrite_header

    train, valid, vocab = run_data
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt)

    def edit(header):
        obj = header["checkpoint"]["data"]
        for key in field[:-1]:
            obj = obj[key]
        obj[field[-1]] = value

    ckpt.write_bytes(rewrite_header(ckpt.read_bytes(), edit))
    with pytest.raises(CheckpointError, match="malformed checkpoint state"):
        RNNLM.resume(ckpt, train, valid, progress=False)


def test_checkpoint_keeps_last_good_weights_and_rollbacks_after_divergence(tmp_path, run_data):
    train, valid, vocab = run_data
    ckpt = tmp_path / "run.ckpt"
    opts = dict(lr=1e4, max_epochs=3, max_rollbacks=10)
    full = RNNLM(vocab, hidden=8, seed=1, cell="relu")
    full.train(train, valid, progress=False, **{**RUN_OPTS, **opts})
    n_div = sum(r.diverged for r in full.history)
    assert n_div >= 2
    # A diverged attempt carries the number of the epoch it attempted, as does the retry after it;
    # each rollback halves the rate and counts against max_rollbacks for the whole run.
    assert [r.epoch for r in full.history[:n_div + 1]] == [1] * (n_div + 1)
    assert [r.lr for r in full.history[:n_div + 1]] == [1e4 / 2**i for i in range(n_div + 1)]
    part = stopped_run(RNNLM(vocab, hidden=8, seed=1, cell="relu"), train, valid, ckpt, **opts)
    _, state = load_checkpoint(RNNLM, ckpt)
    assert state.rollbacks == sum(r.diverged for r in part.history) >= 1
    assert state.good is None  # at an epoch boundary the current weights are the last good ones
    resumed = RNNLM.resume(ckpt, train, valid, progress=False)
    assert same_model(resumed, full)
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
    assert same_model(got, ref)  # one thread: identical, not just close


@pytest.mark.parametrize("patience,min_lr,lr_decay", [(1, 0.0, 2.0), (0, 0.02, 2.0), (0, 0.0, 1.3)])
def test_stopping_options_resume_bit_identical(tmp_path, run_data, patience, min_lr, lr_decay):
    """patience, min_lr and lr_decay live in the checkpoint (options and schedule state): a stopped
    run resumes to the uninterrupted run's weights and history."""
    train, valid, vocab = run_data
    opts = {**RUN_OPTS, "min_improvement": 1.003, "patience": patience, "min_lr": min_lr,
            "lr_decay": lr_decay}
    full = RNNLM(vocab, hidden=8, seed=3)
    full.train(train, valid, progress=False, **opts)
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt, 2,
                **{k: opts[k] for k in ("min_improvement", "patience", "min_lr", "lr_decay")})
    resumed = RNNLM.resume(ckpt, train, valid, progress=False)
    assert same_model(resumed, full)
    assert ([(r.epoch, r.lr, r.kept) for r in resumed.history]
            == [(r.epoch, r.lr, r.kept) for r in full.history])
    state = read_model(ckpt)[0]["checkpoint"]
    assert state["options"]["patience"] == patience and state["schedule"]["patience"] == patience
    assert state["schedule"]["lr_decay"] == lr_decay
    assert state["schedule"]["done"] and state["schedule"]["stop_reason"]


@pytest.mark.parametrize("spent,epochs,reason", [
    (3600.0, 2, "time budget: spent before the epoch started"),
    (3600.0 - 1e-6, 3, "time budget: another epoch would not end within it"),
])
def test_time_budget_is_counted_across_a_resume(tmp_path, run_data, spent, epochs, reason):
    """The schedule's elapsed seconds are checkpointed and the budget is checked before each
    epoch: a run resumed with its budget spent trains no more (its weights are the
    checkpoint's); one with a moment left trains one epoch, after which the budget ends it."""
    from test_model_file import rewrite_header

    train, valid, vocab = run_data
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt, 2, time_budget=3600.0)
    sched = read_model(ckpt)[0]["checkpoint"]["schedule"]
    assert sched["time_budget"] == 3600.0 and 0 < sched["elapsed"] < 3600 and not sched["done"]

    def used(header):  # as if the two epochs had taken (nearly) the hour
        header["checkpoint"]["schedule"]["elapsed"] = spent

    ckpt.write_bytes(rewrite_header(ckpt.read_bytes(), used))
    before = RNNLM.load(ckpt)
    resumed = RNNLM.resume(ckpt, train, valid, progress=False)
    assert [r.epoch for r in resumed.history] == list(range(1, epochs + 1))
    assert same_model(resumed, before) == (epochs == 2)
    sched = read_model(ckpt)[0]["checkpoint"]["schedule"]
    assert sched["done"] and sched["stop_reason"] == reason and sched["epoch"] == epochs


def test_time_budget_counts_the_checkpoint_writes(tmp_path, run_data, monkeypatch):
    """Writing a checkpoint takes time of the budget too (a large model's write can take a
    minute): with writes slowed to 0.3 s each, the elapsed seconds a checkpoint records hold every
    write before it, and a 1 s budget ends the run after the epoch that would overrun it."""
    from rnnlm_fast.checkpoint import CheckpointWriter

    real, writes = CheckpointWriter.save, []

    def slow(self, model, schedule, *rest):
        time.sleep(0.3)
        writes.append(schedule.elapsed)
        real(self, model, schedule, *rest)

    monkeypatch.setattr(CheckpointWriter, "save", slow)
    train, valid, vocab = run_data
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt, 3, time_budget=3600.0)
    # the initial write and those of epochs 1 and 2 were counted by epoch 3's decision
    assert len(writes) == 4 and read_model(ckpt)[0]["checkpoint"]["schedule"]["elapsed"] == writes[-1]
    assert writes[0] == 0 and all(b - a >= 0.3 for a, b in zip(writes, writes[1:]))  # a write each at least
    model = RNNLM(vocab, hidden=8, seed=3)
    model.train(train, valid, progress=False, checkpoint=tmp_path / "budget.ckpt",
                **{**RUN_OPTS, "time_budget": 1.0})
    sched = read_model(tmp_path / "budget.ckpt")[0]["checkpoint"]["schedule"]
    assert sched["stop_reason"] == "time budget: another epoch would not end within it", sched
    # (epochs take milliseconds: 3 fit with the writes counted, all 8 without; a loaded machine, fewer)
    assert 1 <= len(model.history) <= 3 and sched["elapsed"] >= 0.3 * len(model.history)


def test_a_checkpoint_from_before_the_stopping_options_resumes(tmp_path, run_data):
    """Checkpoints written before patience/min_lr/time_budget existed lack them: the defaults apply."""
    from test_model_file import rewrite_header

    train, valid, vocab = run_data
    full = RNNLM(vocab, hidden=8, seed=3)
    full.train(train, valid, progress=False, **RUN_OPTS)
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt, 3)

    def older(header):
        state = header["checkpoint"]
        for key in ("patience", "min_lr", "time_budget", "budget_halvings", "poor_epochs", "elapsed",
                    "stop_reason", "lr_decay"):
            del state["schedule"][key]
        for key in ("patience", "min_lr", "time_budget", "budget_halvings", "lr_decay"):
            del state["options"][key]

    ckpt.write_bytes(rewrite_header(ckpt.read_bytes(), older))
    resumed = RNNLM.resume(ckpt, train, valid, progress=False)
    assert same_model(resumed, full)


@pytest.mark.parametrize("value", [0.5, 1.0, float("inf")])
def test_a_checkpoint_with_an_impossible_lr_decay_is_refused(tmp_path, run_data, value):
    from test_model_file import rewrite_header

    train, valid, vocab = run_data
    ckpt = tmp_path / "run.ckpt"
    stopped_run(RNNLM(vocab, hidden=8, seed=3), train, valid, ckpt)

    def edit(header):
        header["checkpoint"]["schedule"]["lr_decay"] = value

    ckpt.write_bytes(rewrite_header(ckpt.read_bytes(), edit))
    with pytest.raises(CheckpointError, match="decay"):
        RNNLM.resume(ckpt, train, valid, progress=False)
