"""MPI for distributed training: mpi4py on demand (with the install hint), the launcher's
view of this process, a watchdog around collective calls, and the rule for failures: one
message naming the process and the cause, then the whole job stops (``comm.Abort``).

Nothing here imports mpi4py until a distributed run asks for it: the package works without
the ``mpi`` extra.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from ..errors import ConfigError, RnnlmError

INSTALL_HINT = 'distributed training needs MPI: pip install "rnnlm-fast[mpi]" (mpi4py and an MPICH build)'
# The environment variables MPI launchers give each process: (size, rank).
LAUNCHER_VARIABLES = (("PMI_SIZE", "PMI_RANK"), ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
                      ("PMIX_SIZE", "PMIX_RANK"), ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"))
# A file descriptor on which a monitoring parent (launch.py) reads this process's status lines.
STATUS_FD_VARIABLE = "RNNLM_FAST_STATUS_FD"
# Seconds a process other than rank 0 waits before reporting its own error: an error that every
# process meets at once (a missing file) is then reported once, by rank 0, whose abort ends the rest.
REPORT_DELAY = 2.0
# Seconds between printing the one error line and aborting the job (see abort).
FORWARD_DELAY = 0.5


def find_mpiexec() -> Optional[str]:
    """The ``mpiexec`` that goes with this interpreter's mpi4py: the one next to it (where the
    mpi extra's MPICH installs it), else the first on PATH; None without mpi4py or mpiexec.
    Imports nothing (mpi4py.MPI would start MPI in the calling process)."""
    if importlib.util.find_spec("mpi4py") is None:
        return None
    return shutil.which("mpiexec",
                        path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def mpi() -> Any:
    """The ``mpi4py.MPI`` module, or ConfigError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ConfigError(f"{INSTALL_HINT} ({e})") from None
    return MPI


def launched() -> Optional[tuple[int, int]]:
    """(rank, size) when an MPI launcher started this process as one of several, else None."""
    for size_var, rank_var in LAUNCHER_VARIABLES:
        try:
            size, rank = int(os.environ[size_var]), int(os.environ.get(rank_var, "0"))
        except (KeyError, ValueError):
            continue
        if size > 1:
            return rank, size
    return None


def who(comm: Any) -> str:
    """'rank 1 of 4 (pid 1234 on host)'."""
    return f"rank {comm.Get_rank()} of {comm.Get_size()} (pid {os.getpid()} on {socket.gethostname()})"


def status(text: str) -> None:
    """Tell a monitoring parent (launch.py) where this process is; nothing without one."""
    fd = os.environ.get(STATUS_FD_VARIABLE)
    if not fd:
        return
    try:
        os.write(int(fd), (text.replace("\n", " ") + "\n").encode("utf-8", "replace"))
    except (OSError, ValueError):
        pass


def describe(error: BaseException) -> str:
    """An exception as the one line the command line prints."""
    if isinstance(error, (RnnlmError, OSError)):
        return str(error)
    return f"{type(error).__name__}: {error}"


def abort(comm: Any, message: Optional[str], code: int, delay: bool = True) -> None:
    """Print ``message`` (one line, naming this process) unless None, then end the whole job.

    Other processes than rank 0 wait :data:`REPORT_DELAY` seconds first (see there)."""
    if delay and comm.Get_rank() != 0:
        time.sleep(REPORT_DELAY)
    if message is not None:
        sys.stderr.write(f"rnnlm-fast: error: {who(comm)}: {message}\n")
        sys.stderr.flush()
        # the launcher forwards our stderr through a pipe; Abort tears the job down at once, and
        # a line still in that pipe can be lost (the tests saw jobs end with nothing on stderr)
        time.sleep(FORWARD_DELAY)
    status("reported")
    try:
        comm.Abort(code)
    finally:  # Abort does not return; should the library's return anyway, leave at once
        os._exit(code)


AGREED: dict[str, bool] = {}  # whether an agreed error was raised in this process


def agreed(error: BaseException) -> BaseException:
    """Mark an error that every process raises at the same point (a collective decision):
    it needs no abort, and the command line reports it once, from rank 0."""
    error.all_ranks = True  # type: ignore[attr-defined]
    AGREED["seen"] = True
    return error


def is_agreed(error: BaseException) -> bool:
    return bool(getattr(error, "all_ranks", False))


@contextmanager
def fatal_errors(comm: Any) -> Iterator[None]:
    """Errors of this process alone end the job (the others would wait forever in their next
    collective call): one message, then ``comm.Abort``. Agreed errors pass (see :func:`agreed`)."""
    try:
        yield
    except BaseException as e:
        if is_agreed(e):
            raise
        if isinstance(e, KeyboardInterrupt):
            abort(comm, "interrupted" if comm.Get_rank() == 0 else None, 130)
        abort(comm, describe(e), 2)


class Watchdog:
    """Ends the job when a collective call waits longer than ``timeout`` seconds: a process
    died (and the launcher did not stop the job) or hangs. A daemon thread; MPI must allow
    calls from several threads (mpi4py asks for that), else the process just exits."""

    def __init__(self, comm: Any, timeout: float):
        self.comm, self.timeout = comm, float(timeout)
        self._lock = threading.Lock()
        self._deadline: Optional[float] = None
        self._what = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rnnlm-fast watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        with self._lock:
            self._deadline, self._what = time.monotonic() + self.timeout, what
        try:
            yield
        finally:
            with self._lock:
                self._deadline = None

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(min(1.0, self.timeout / 4)):
            with self._lock:
                late = self._deadline is not None and time.monotonic() > self._deadline
                what = self._what
            if late:
                message = (f"waited {self.timeout:g} s for the other processes at {what}: "
                           "one of them died or hangs (--sync-timeout); stopping the job")
                try:
                    threads_ok = mpi().Query_thread() == mpi().THREAD_MULTIPLE
                except Exception:  # pragma: no cover - a library without the query
                    threads_ok = False
                if threads_ok:
                    abort(self.comm, message, 3, delay=False)
                sys.stderr.write(f"rnnlm-fast: error: {who(self.comm)}: {message}\n")
                sys.stderr.flush()
                os._exit(3)
