"""Run under mpiexec by tests/test_distributed_mpi.py and _faults.py:
``python mpi_cli.py HOOK ARG -- rnnlm-fast ARGS``.

The command line (``rnnlm_fast.cli.main``, what the ``rnnlm-fast`` script runs) with one test
hook set first (or ``none``); the training process the command forks inherits it. Hooks:

``record DIR``
    Every process writes, for each combination of the weights, its weights and update marks
    before it and its weights after it (``DIR/rank<r>.<n>.npz``, n counting from 0; the start of
    an epoch, when BMUF takes its starting point, is an entry of its own): what
    :func:`replay` in test_distributed_mpi.py recomputes with NumPy.
``stall-write EPOCH``
    Rank 0 writes the checkpoint of epoch EPOCH to its temporary file, cuts that file to half
    its length, creates ``<checkpoint>.stalled`` and waits there (never renaming it over the
    checkpoint): the moment to kill it during a checkpoint write.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import rnnlm_fast._files
from rnnlm_fast.cli import main
from rnnlm_fast.distributed.sync import WeightSync


def record_combinations(directory: Path) -> None:
    """Make every WeightSync of this process record its combinations in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    begin_epoch, combine = WeightSync.begin_epoch, WeightSync.combine
    count = [0]

    def save(sync: WeightSync, **arrays: Any) -> None:
        np.savez(directory / f"rank{sync.rank}.{count[0]}.npz", **arrays)
        count[0] += 1

    def recorded_begin(self: WeightSync) -> None:
        begin_epoch(self)
        save(self, kind="begin", **{f"after.{k}": v for k, v in self.weights.items()})

    def recorded_combine(self: WeightSync, last: bool = False) -> None:
        before = {f"before.{k}": v.copy() for k, v in self.weights.items()}
        marks = self.map.copy()  # this process's own marks (combine ORs them with the others')
        combine(self, last=last)
        save(self, kind="combine", last=last, marks=marks, class_sizes=self.class_sizes, **before,
             **{f"after.{k}": v for k, v in self.weights.items()})

    WeightSync.begin_epoch, WeightSync.combine = recorded_begin, recorded_combine


class _StallingOs:
    """``os`` for rnnlm_fast._files: the rename of the checkpoint's temporary file after epoch
    ``epoch`` never happens (see the module's docstring)."""

    def __init__(self, epoch: int):
        self.writes_left = epoch + 1  # the checkpoint before the first epoch, then one per epoch

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def replace(self, source: str, target: Any) -> None:
        if str(target).endswith(".ckpt"):
            self.writes_left -= 1
            if self.writes_left == 0:
                size = os.path.getsize(source)
                os.truncate(source, size // 2)
                Path(f"{target}.stalled").write_text(f"{source}\n")
                time.sleep(600)
        os.replace(source, target)


if __name__ == "__main__":
    hook, arg, dashes, *args = sys.argv[1:]
    assert dashes == "--", sys.argv
    if hook == "record":
        record_combinations(Path(arg))
    elif hook == "stall-write":
        rnnlm_fast._files.os = _StallingOs(int(arg))  # type: ignore[assignment]
    elif hook != "none":
        raise SystemExit(f"unknown hook {hook}")
    sys.exit(main(args))
