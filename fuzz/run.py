"""Run the fuzz targets of ``fuzz/targets.py`` for a time or a number of examples.

    python fuzz/run.py --minutes 10 --target model          # one target for ten minutes
    python fuzz/run.py --examples 300 --target all --seed 0  # a short burst, replaying seed 0

Without ``--seed`` each run draws a new one and prints it (in each target's JSON line and
with every failure), so a failing run can be replayed with ``--seed``.

The process limits its own address space (``--memory-mb``, default 3072), so an input
that makes a reader allocate without bound fails with MemoryError instead of taking the
machine down, and a watchdog aborts with a traceback if one example runs longer than
``--hang-seconds``. Prints one JSON line per target: examples, failures, seconds, the
slowest example; exits 1 if any target failed (hypothesis prints the shrunk input).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import random
import resource
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import TARGETS, Workspace


def run_target(name: str, *, minutes: float, examples: int, seed: int, hang_seconds: float) -> dict:
    strategy, check = TARGETS[name]
    ws = Workspace()
    stats = {"target": name, "seed": seed, "examples": 0, "failures": 0, "slowest_s": 0.0}
    stop_at = time.monotonic() + minutes * 60 if minutes else None

    def one(case) -> None:
        faulthandler.dump_traceback_later(hang_seconds, exit=True)
        t = time.perf_counter()
        try:
            check(ws, case)
        finally:
            faulthandler.cancel_dump_traceback_later()
            stats["examples"] += 1
            stats["slowest_s"] = max(stats["slowest_s"], time.perf_counter() - t)

    batch = examples if not stop_at else 2000
    start = time.monotonic()
    round_ = 0
    try:
        while True:
            test = settings(
                max_examples=batch, deadline=None, database=None, derandomize=False,
                suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
                print_blob=True,
            )(given(strategy)(one))
            test = hseed(seed + round_)(test)
            try:
                test()
            except Exception as e:
                stats["failures"] += 1
                stats["last_failure"] = f"{type(e).__name__}: {e}"[:500]
                traceback.print_exception(e, file=sys.stderr)
                print(f"fuzz target {name} failed in round {round_}; replay: python fuzz/run.py "
                      f"--target {name} --seed {seed} --minutes {minutes:g} --examples {examples}",
                      file=sys.stderr, flush=True)
            round_ += 1
            if stop_at is None or time.monotonic() >= stop_at:
                break
    finally:
        ws.close()
    stats["seconds"] = round(time.monotonic() - start, 1)
    stats["slowest_s"] = round(stats["slowest_s"], 3)
    return stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="all", choices=["all", *TARGETS])
    ap.add_argument("--minutes", type=float, default=0.0, help="run each target this long")
    ap.add_argument("--examples", type=int, default=300, help="examples per target when --minutes is 0")
    ap.add_argument("--seed", type=int, default=None,
                    help="hypothesis seed, to replay a run (default: a new one each run, printed)")
    ap.add_argument("--memory-mb", type=int, default=3072, help="address-space limit of this process")
    ap.add_argument("--hang-seconds", type=float, default=30.0, help="abort if one example runs longer")
    args = ap.parse_args(argv)
    if args.memory_mb:
        limit = args.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    names = list(TARGETS) if args.target == "all" else [args.target]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    failed = False
    for name in names:
        stats = run_target(name, minutes=args.minutes, examples=args.examples, seed=seed,
                           hang_seconds=args.hang_seconds)
        print(json.dumps(stats), flush=True)
        failed |= stats["failures"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
