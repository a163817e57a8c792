"""A short burst of every fuzz target of ``fuzz/targets.py`` (the long runs: ``fuzz/run.py
--minutes N``, figures in docs/fuzzing.md).

Each burst runs in a subprocess under a 3 GiB address-space limit and a hang watchdog,
with a fixed seed, so an unbounded allocation or a crash in the C++ readers fails the test
instead of the test run. Only the package's typed errors may escape a reader.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "fuzz" / "run.py"


@pytest.mark.parametrize("target", ["model", "vocab", "corpus", "nbest"])
def test_fuzz_target_short_run(target):
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--target", target, "--examples", "300", "--seed", "0",
         "--memory-mb", "3072", "--hang-seconds", "20"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-5000:]
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats["target"] == target and stats["failures"] == 0
    assert stats["examples"] >= 300
    assert stats["slowest_s"] < 5.0, stats  # no input makes a reader crawl
