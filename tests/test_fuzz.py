"""A short burst of every fuzz target of ``fuzz/targets.py`` (the long runs: ``fuzz/run.py
--minutes N``, figures in docs/fuzzing.md).

Each burst runs in a subprocess under a 3 GiB address-space limit and a hang watchdog, so an
unbounded allocation or a crash in the C++ readers fails the test instead of the test run.
Only the package's typed errors may escape a reader. Every run draws a new seed (so CI runs
keep exploring); a failure prints it with the command that replays it, and
``RNNLM_FUZZ_SEED=N`` fixes it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "fuzz" / "run.py"
EXAMPLES = 300  # per target: a few seconds each, so the suite stays short


def fuzz_seed() -> int:
    """RNNLM_FUZZ_SEED when set (to replay a failure), else a new seed each run."""
    fixed = os.environ.get("RNNLM_FUZZ_SEED")
    return int(fixed) if fixed else random.SystemRandom().randrange(1 << 32)


@pytest.mark.parametrize("target", ["model", "checkpoint", "vocab", "corpus", "nbest", "rnnlm04b"])
def test_fuzz_target_short_run(target):
    seed = fuzz_seed()
    argv = ["--target", target, "--examples", str(EXAMPLES), "--seed", str(seed), "--memory-mb", "3072",
            "--hang-seconds", "20"]
    replay = (f"fuzz seed {seed}; replay: RNNLM_FUZZ_SEED={seed} python -m pytest {__file__} -k {target}, "
              f"or python fuzz/run.py {' '.join(argv)}")
    proc = subprocess.run([sys.executable, str(RUNNER), *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{replay}\n{proc.stdout}{proc.stderr[-5000:]}"
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats["target"] == target and stats["failures"] == 0 and stats["seed"] == seed, (replay, stats)
    assert stats["examples"] >= EXAMPLES, (replay, stats)
    assert stats["slowest_s"] < 5.0, (replay, stats)  # no input makes a reader crawl


def test_fuzz_runs_draw_a_new_seed_and_print_it():
    """Without --seed the runner draws one per run and reports it, so a failure can be replayed."""
    seeds = set()
    for _ in range(2):
        proc = subprocess.run([sys.executable, str(RUNNER), "--target", "vocab", "--examples", "5"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        seeds.add(json.loads(proc.stdout.strip().splitlines()[-1])["seed"])
    assert len(seeds) == 2
    assert fuzz_seed() != fuzz_seed() or os.environ.get("RNNLM_FUZZ_SEED")


# --- what the fuzz runs found, kept fixed -------------------------------------------------
@pytest.mark.parametrize("count", ["9223372036854775808", "-9223372036854775809", "1" + "0" * 40])
def test_vocabulary_count_past_int64_is_a_vocabulary_error(tmp_path, count):
    """fuzz/run.py --target vocab --minutes 1 --seed 999 found a count of 2**63 reaching the
    engine's constructor (pybind11 TypeError); it is a VocabularyError naming file and line."""
    from rnnlm_fast import Vocabulary, VocabularyError

    p = tmp_path / "v.txt"
    p.write_text(f"# rnnlm-fast vocabulary v1\n# words=2 classes=1\n0\t</s>\t5\t0\n1\tcat\t{count}\t0\n",
                 encoding="utf-8")
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(p)
    assert f"{p}:4:" in str(e.value) and count in str(e.value) and "64 bits" in str(e.value), str(e.value)
