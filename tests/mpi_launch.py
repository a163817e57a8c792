"""What the tests that run under mpiexec share: the launcher (skip or fail without it), the worker
script (tests/mpi_worker.py) and its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlm_fast.distributed.mpi import INSTALL_HINT, find_mpiexec

HERE = Path(__file__).resolve().parent


def launcher() -> str:
    """MPICH's mpiexec; without the mpi extra the test skips, but fails where RNNLM_FAST_REQUIRE_MPI
    is set (CI's stages, .ci/run and scripts/check_wheel.sh, install the extra: nothing may skip)."""
    required = bool(os.environ.get("RNNLM_FAST_REQUIRE_MPI"))
    if required:
        import mpi4py  # noqa: F401 - an ImportError fails the test
    found = find_mpiexec()
    if found is None:
        (pytest.fail if required else pytest.skip)(f"mpi4py or mpiexec not found: {INSTALL_HINT}")
    return found


def run_worker(n: int, mode: str, d: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([launcher(), "-n", str(n), sys.executable, str(HERE / "mpi_worker.py"),
                           mode, str(d)], capture_output=True, text=True, timeout=timeout)


def results(d: Path, mode: str, n: int) -> list[dict]:
    return [json.loads((d / f"{mode}.rank{r}.json").read_text()) for r in range(n)]
