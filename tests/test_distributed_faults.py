"""Distributed training's faults under mpiexec: a SIGKILLed process (rank 1, rank 0 while training
or writing a checkpoint, a rank's monitor) ends the job with one line, and the last checkpoint
resumes (with another number of processes) continuing its history, epoch numbers and learning rate.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpora import write_corpus
from mpi_launch import HERE, launcher

from rnnlm_fast import RNNLM
from rnnlm_fast.checkpoint import load_checkpoint
from rnnlm_fast.model_file import read_header


def _workers_of_rank(root: int, rank: int) -> list[int]:
    """The training processes (the monitor's children) of one rank below process ``root``."""
    def children(pid: int) -> list[int]:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []

    def rank_of(pid: int) -> str:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return ""
        return next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"PMI_RANK=")), "")

    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = children(pid)
        todo += kids
        if rank_of(pid) == str(rank) and any(rank_of(k) == str(rank) for k in kids):
            found += [k for k in kids if rank_of(k) == str(rank)]
    return found


# A run whose schedule changes before the kill: every epoch after the first gains less than the
# (huge) min_improvement, 25 such epochs are tolerated, so the rate halves from epoch 28 on and the
# run stops at epoch 53. A resumed run that started its schedule afresh would renumber the epochs
# from 1, lose the history and train at 0.1 again.
KILLED_RUN = ["--hidden", "16", "--classes", "4", "--max-epochs", "60", "--min-improvement", "10",
              "--patience", "25", "--sync-words", "300"]


def _wait_for_checkpoint(job: subprocess.Popen, ckpt: Path, epoch: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and job.poll() is None:
        try:
            if read_header(ckpt)["checkpoint"]["schedule"]["epoch"] >= epoch:
                return
        except Exception:  # not written yet, or being replaced
            pass
        time.sleep(0.02)


def _history(header: dict) -> list[tuple]:
    return [(r["epoch"], r["lr"], r["valid_entropy"], r["kept"]) for r in header["history"]]


def assert_resumed_from(model: RNNLM, header: dict) -> None:
    """``model``'s history continues the checkpoint ``header``'s: the same records, then the epoch
    after the checkpoint's at the checkpoint's learning rate, and onwards to the schedule's stop."""
    sched = header["checkpoint"]["schedule"]
    before = _history(header)
    assert len(before) == sched["epoch"] >= 28 and sched["lr"] < 0.1, sched  # the halving had begun
    got = [(r.epoch, r.lr, r.valid_entropy, r.kept) for r in model.history]
    assert got[:len(before)] == before
    first = model.history[len(before)]
    assert first.epoch == sched["epoch"] + 1 and first.lr == sched["lr"]
    assert [r.epoch for r in model.history] == list(range(1, 54))  # the patience runs out at epoch 53
    resumed_lrs = [r.lr for r in model.history[len(before):]]
    assert resumed_lrs == [sched["lr"] / 2**i for i in range(53 - len(before))]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the rank monitor and /proc are Linux's")
def test_a_killed_process_ends_the_job_and_the_checkpoint_resumes_with_three(tmp_path):
    mpiexec = launcher()
    train, valid = (write_corpus(tmp_path / "train.txt", 400, seed=0),
                    write_corpus(tmp_path / "valid.txt", 40, seed=1))
    out, ckpt = tmp_path / "m.rnnlm", tmp_path / "m.rnnlm.ckpt"
    cli = [sys.executable, "-m", "rnnlm_fast.cli", "train", "--train", str(train), "--valid", str(valid),
           "--output", str(out), "--distributed", "--quiet"]
    job = subprocess.Popen([mpiexec, "-n", "2", *cli, *KILLED_RUN],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_checkpoint(job, ckpt, 28)
        victims = _workers_of_rank(job.pid, 1)
        assert job.poll() is None and len(victims) == 1, "the run ended before it could be killed"
        killed_at = time.monotonic()
        os.kill(victims[0], signal.SIGKILL)
        _, err = job.communicate(timeout=90)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0 and time.monotonic() - killed_at < 60
    ours = [line for line in err.splitlines() if line.startswith("rnnlm-fast: error:")]
    assert len(ours) == 1, err
    assert ("rank 1 of 2" in ours[0] and "SIGKILL" in ours[0] and "--resume" in ours[0]
            and str(ckpt) in ours[0])
    assert not out.exists() and ckpt.exists()
    header = read_header(ckpt)
    done = subprocess.run([mpiexec, "-n", "3", *cli, "--resume"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    model = RNNLM.load(out)
    assert not ckpt.exists() and not list(tmp_path.glob(".*.tmp"))  # a write cut short is removed on resume
    assert_resumed_from(model, header)
    assert min(r.valid_ppl for r in model.history) < model.history[0].valid_ppl


def _processes_of(directory: Path) -> list[str]:
    """Command lines of the running processes that name ``directory`` (a job's leftovers)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(directory) in cmdline and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline}")
    return found


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the rank monitor and /proc are Linux's")
@pytest.mark.parametrize("victim", ["rank 0", "rank 0 writing", "monitor 0", "monitor 1"])
def test_rank_0_or_a_monitor_killed_ends_the_job_and_the_last_checkpoint_resumes(tmp_path, victim):
    """SIGKILL to rank 0's training process (the checkpoint writer: while it trains, and while it
    writes the checkpoint of epoch 29, its temporary file half written) or to a rank's monitor
    (the launcher's own process, parent of the training one): the job ends within 60 s with one
    line and leaves no process behind; the last complete checkpoint loads, and --resume continues
    it (removing the cut-short temporary file)."""
    mpiexec = launcher()
    train, valid = write_corpus(tmp_path / "train.txt", 400), write_corpus(tmp_path / "valid.txt", 40, seed=1)
    out, ckpt = tmp_path / "m.rnnlm", tmp_path / "m.rnnlm.ckpt"
    args = ["train", "--train", str(train), "--valid", str(valid), "--output", str(out), "--distributed",
            "--quiet"]
    hook = ["stall-write", "29"] if victim == "rank 0 writing" else ["none", ""]
    job = subprocess.Popen([mpiexec, "-n", "2", sys.executable, str(HERE / "mpi_cli.py"), *hook, "--", *args,
                            *KILLED_RUN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if victim == "rank 0 writing":
            stalled = Path(f"{ckpt}.stalled")
            deadline = time.monotonic() + 120
            while not stalled.exists() and job.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert stalled.exists(), "the checkpoint write did not stall"
            temporary = Path(stalled.read_text().strip())
        else:
            _wait_for_checkpoint(job, ckpt, 28)
        workers = _workers_of_rank(job.pid, int(victim[-1]) if victim.startswith("monitor") else 0)
        assert job.poll() is None and len(workers) == 1, "the run ended before it could be killed"
        killed_at = time.monotonic()
        os.kill(_parent(workers[0]) if victim.startswith("monitor") else workers[0], signal.SIGKILL)
        stdout, err = job.communicate(timeout=90)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0 and time.monotonic() - killed_at < 60
    time.sleep(0.5)
    assert _processes_of(tmp_path) == []
    ours = [line for line in err.splitlines() if line.startswith("rnnlm-fast: error:")]
    if victim.startswith("rank 0"):
        assert len(ours) == 1, err
        assert all(part in ours[0] for part in ("rank 0 of 2", "SIGKILL", "--resume", str(ckpt))), ours
    else:  # MPICH's launcher SIGKILLs the other monitors at once (their training processes die with them)
        assert ours == [], err
        assert stdout.count("YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)") == 1, \
            stdout
    assert not out.exists()
    header = read_header(ckpt)
    _, state = load_checkpoint(RNNLM, ckpt)
    if victim == "rank 0 writing":  # the last complete checkpoint: epoch 28's; epoch 29's was cut short
        assert state.schedule["epoch"] == 28 and temporary.name.startswith(".m.rnnlm.ckpt.")
        assert temporary.exists() and 0 < temporary.stat().st_size < ckpt.stat().st_size
    cli = [sys.executable, "-m", "rnnlm_fast.cli", *args]
    done = subprocess.run([mpiexec, "-n", "2", *cli, "--resume"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not ckpt.exists() and not list(tmp_path.glob(".*.tmp"))
    assert_resumed_from(RNNLM.load(out), header)
