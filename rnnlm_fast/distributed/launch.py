"""``rnnlm-fast train --distributed`` under an MPI launcher: the supervision of one process.

Each process the launcher starts forks (:func:`supervise`): the child is the MPI process that
trains (rnnlm_fast/runs.py runs the request there), the parent only watches it. When the
child dies without a word (SIGKILL, the out-of-memory killer, a crash in native code), the
parent prints one line naming the rank, the signal and where training was, and exits with 128
+ the signal, which makes the launcher stop the job; signals the parent receives (Ctrl-C,
SIGTERM) go to the child.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from typing import Any, Optional

from .._files import PathLike
from .mpi import STATUS_FD_VARIABLE, launched, mpi

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
_PR_SET_PDEATHSIG = 1


def supervise(checkpoint: Optional[PathLike]) -> Optional[int]:
    """Fork this process of an MPI job: in the watching parent, wait for the child and return its
    exit status (a death by a signal is reported, naming ``checkpoint`` to resume from); in the
    child, the MPI process, return None. Fails before forking when mpi4py is missing."""
    mpi_module_present()
    read_fd, write_fd = os.pipe()
    forks = hasattr(os, "fork") and sys.platform.startswith("linux")
    child = os.fork() if forks else 0
    if child:
        os.close(write_fd)
        return _monitor(child, read_fd, checkpoint)
    if forks:
        _die_with_parent()
    os.close(read_fd)
    os.environ[STATUS_FD_VARIABLE] = str(write_fd)
    return None


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


def _monitor(child: int, read_fd: int, checkpoint: Optional[PathLike]) -> int:
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
            print(death_message(sig, last["who"], last["where"], checkpoint), file=sys.stderr, flush=True)
        return 128 + sig
    return os.WEXITSTATUS(code) if os.WIFEXITED(code) else 1


def death_message(sig: int, whom: str, where: str, checkpoint: Optional[PathLike]) -> str:
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
    hint = (f"rerun the same command with --resume to continue from the last checkpoint '{checkpoint}' "
            "(rank 0 writes it after every epoch)" if checkpoint is not None
            else "rerun to train (no checkpoint was written)")
    return (f"rnnlm-fast: error: {whom} was {cause}: {name}"
            f"{' during ' + where if where else ''}; the job stops; {hint}")
