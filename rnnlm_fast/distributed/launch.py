"""``rnnlm-fast train --distributed`` under an MPI launcher: one process of the job.

Each process the launcher starts forks: the child is the MPI process that trains (rank 0 runs
the command's usual flow, counting the vocabulary and writing checkpoints and the model; the
others follow it, see trainer.py), the parent only watches it. When the child dies without a
word (SIGKILL, the out-of-memory killer, a crash in native code), the parent prints one line
naming the rank, the signal and where training was, and exits with 128 + the signal, which
makes the launcher stop the job; signals the parent receives (Ctrl-C, SIGTERM) go to the child.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from typing import Any, Callable, Optional

from .. import options
from ..errors import ConfigError
from .mpi import AGREED, STATUS_FD_VARIABLE, abort, agreed, describe, is_agreed, launched, mpi, status, who

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
_PR_SET_PDEATHSIG = 1


def train_command(args: argparse.Namespace, cmd_train: Callable[[argparse.Namespace], int]) -> int:
    """Run the train command as this process's part of a distributed run; returns the exit status."""
    if not args.distributed:
        rank, size = launched() or (0, 1)
        if rank != 0:  # every process meets this: rank 0 says it
            raise SystemExit(2)
        raise ConfigError(f"this process is rank {rank} of {size} started by an MPI launcher: pass --distributed "
                          "to train one model together, or start a single process")
    mpi_module_present()
    read_fd, write_fd = os.pipe()
    child = os.fork() if hasattr(os, "fork") and sys.platform.startswith("linux") else 0
    if child:
        os.close(write_fd)
        return _monitor(child, read_fd, args)
    if hasattr(os, "fork") and sys.platform.startswith("linux"):
        _die_with_parent()
    os.close(read_fd)
    os.environ[STATUS_FD_VARIABLE] = str(write_fd)
    return _rank(args, cmd_train)


def mpi_module_present() -> None:
    """Fail before forking when mpi4py is missing (the message says how to install it)."""
    import importlib.util

    if importlib.util.find_spec("mpi4py") is None:
        mpi()  # raises ConfigError with the hint


def _die_with_parent() -> None:
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died already
        os._exit(1)


def _rank(args: argparse.Namespace, cmd_train: Callable[[argparse.Namespace], int]) -> int:
    """The MPI process: rank 0 runs the command, the others follow; errors as mpi.py says."""
    comm = mpi().COMM_WORLD
    status(f"started {who(comm)}")
    args.comm = comm
    agreed_before = _agree_on_command(comm)
    try:
        if agreed_before is not None:
            raise agreed_before
        rc = cmd_train(args) if comm.Get_rank() == 0 else _follow(args, comm)
    except BaseException as e:  # noqa: BLE001 - every error ends the job, once
        if not is_agreed(e):
            abort(comm, "interrupted" if isinstance(e, KeyboardInterrupt) else describe(e),
                  130 if isinstance(e, KeyboardInterrupt) else 2)
        if comm.Get_rank() == 0 and not isinstance(e, KeyboardInterrupt):
            print(f"rnnlm-fast: error: {describe(e)}", file=sys.stderr)
        rc = 130 if isinstance(e, KeyboardInterrupt) else 2
        if comm.Get_rank() == 0 and isinstance(e, KeyboardInterrupt):
            print("rnnlm-fast: interrupted; rerun the same command with --resume to continue from the checkpoint",
                  file=sys.stderr)
    else:
        if rc != 0 and comm.Get_rank() == 0 and not AGREED.get("seen"):
            abort(comm, None, rc, delay=False)  # rank 0 stopped alone (its message is out): stop the rest
    status("finished")
    return rc


def _agree_on_command(comm: Any) -> Optional[ConfigError]:
    """Every process was started with the same command line (--threads aside), or all raise."""
    argv, skip = [], False
    for a in sys.argv[1:]:
        if not skip and not a.startswith("--threads"):
            argv.append(a)
        skip = a == "--threads"
    everyone = comm.allgather(argv)
    for rank, theirs in enumerate(everyone):
        if theirs != everyone[0]:
            return agreed(ConfigError(f"rank {rank} was started with another command line than rank 0: "
                                      f"{' '.join(theirs)!r} vs {' '.join(everyone[0])!r}"))
    return None


def _follow(args: argparse.Namespace, comm: Any) -> int:
    """A process other than rank 0: train with rank 0's model, options and schedule."""
    from ..model import RNNLM
    from .trainer import DistributedTrainer

    values = None
    if not args.resume:
        values = options.resolve(options.TRAINING, {n: getattr(args, n) for n in options.TRAINING})
    threads = args.threads if (not args.resume or getattr(args, "threads_given", False)) else None
    DistributedTrainer(None, args.train, args.valid, values, comm, model_class=RNNLM, progress=False,
                       threads=threads).run()
    return 0


def _monitor(child: int, read_fd: int, args: argparse.Namespace) -> int:
    """The parent: forwards signals to the child, reports its death by a signal."""
    forwarded: set[int] = set()

    def forward(signum: int, _frame: Any) -> None:
        forwarded.add(signum)
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for s in FORWARDED:
        signal.signal(s, forward)
    last = {"where": "", "who": ""}

    def read_status() -> None:
        with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("started "):
                    last["who"] = line[len("started "):]
                elif line not in ("reported", "finished"):
                    last["where"] = line
                if line == "reported":
                    last["reported"] = "yes"

    reader = threading.Thread(target=read_status, daemon=True)
    reader.start()
    _, code = os.waitpid(child, 0)
    reader.join(timeout=1.0)
    if os.WIFSIGNALED(code):
        sig = os.WTERMSIG(code)
        if sig not in forwarded and not last.get("reported"):
            print(death_message(sig, last["who"], last["where"], args), file=sys.stderr, flush=True)
        return 128 + sig
    return os.WEXITSTATUS(code) if os.WIFEXITED(code) else 1


def death_message(sig: int, whom: str, where: str, args: argparse.Namespace) -> str:
    """One line: which rank died of what, where training was, how to continue."""
    if not whom:
        rank, size = launched() or (0, 1)
        whom = f"rank {rank} of {size} (on {socket.gethostname()})"
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    cause = {"SIGKILL": "killed (by hand, or by the out-of-memory killer)", "SIGSEGV": "crashed",
             "SIGBUS": "crashed", "SIGABRT": "aborted"}.get(name, "stopped")
    ckpt = None if args.no_checkpoint else (args.checkpoint or f"{args.output}.ckpt")
    hint = (f"rerun the same command with --resume to continue from the last checkpoint '{ckpt}' (rank 0 writes "
            "it after every epoch)" if ckpt else "rerun to train (no checkpoint was written)")
    return (f"rnnlm-fast: error: {whom} was {cause}: {name}"
            f"{' during ' + where if where else ''}; the job stops; {hint}")
