"""The block trainer's B x T x cell x H table for docs/performance.md (issue 27): words/s, achieved
GFLOP/s and % of sgemm at the step's shapes, one engine thread, all measured in one run.

Each row trains one epoch (best of ROUNDS, freshly seeded) of ``RNNLM.train_epoch(batch=B, bptt=T)``
on the first whole sentences of PTB holding about a second's work, and times the kept BLAS alone at
that block's product shapes (bench_block.py's formula and yardstick; its docstring says how). Prints
a markdown table; run it alone on an idle machine:

    python benchmarks/block_table.py                      # the full grid, a few minutes
    python benchmarks/block_table.py --models gru:400 --batches 16 32 --steps 20
"""

from __future__ import annotations

import argparse
import os
import time

from bench_block import GATES, class_stats, model_flops, products, yardstick
from benchutil import head

from rnnlm_fast import RNNLM, Vocabulary, _core

ROUNDS = 2
MFLOP_PER_SECOND_OF_WORK = 60_000  # about a second of training per round at ~60 GFLOP/s
# and never fewer positions than bench_block's 40k: shorter epochs of the big models are mostly
# cold start (LSTM H=650 on 5.6k positions ran at 4.5k words/s against 6.5k on 40k)
MIN_POSITIONS = 40_000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("RNNLM_DATA", "../shared/data"))
    p.add_argument("--models", nargs="+", default=["sigmoid:200", "gru:400", "lstm:400", "lstm:650"])
    p.add_argument("--batches", nargs="+", type=int, default=[8, 16, 32, 64])
    p.add_argument("--steps", nargs="+", type=int, default=[5, 10, 20])
    a = p.parse_args()
    train = os.path.join(a.data, "ptb", "train.txt")
    vocab = Vocabulary.from_corpus(train, classes=100)
    full = RNNLM(vocab, hidden=8, seed=1).encode_file(train)
    print(f"BLAS: {_core.blas_name()}; PTB, 100 classes; one thread; best of {ROUNDS} epochs per row\n")
    print("| cell | H | B | T | words/s | achieved GFLOP/s | sgemm GFLOP/s | % of sgemm |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for spec in a.models:
        cell, hidden = spec.split(":")
        H, G = int(hidden), GATES[cell]
        for batch in a.batches:
            for steps in a.steps:
                mflop_guess = 1e-6 * model_flops(G, H, vocab.n_classes, 36)  # PTB: S about 36
                enc = head(full, max(MIN_POSITIONS, int(MFLOP_PER_SECOND_OF_WORK / mflop_guess)))
                S, n = class_stats(vocab, enc, steps, batch)
                best = 0.0
                for _ in range(ROUNDS):
                    model = RNNLM(vocab, hidden=H, cell=cell, seed=1)
                    t0 = time.perf_counter()
                    st = model.train_epoch(enc, batch=batch, bptt=steps, threads=1)
                    best = max(best, st.processed / (time.perf_counter() - t0))
                flops = model_flops(G, H, vocab.n_classes, S)
                achieved = flops * best / 1e9
                peak = yardstick(products(G, H, vocab.n_classes, S, n, steps, batch), 1)
                print(f"| {cell} | {H} | {batch} | {steps} | {best / 1e3:.1f}k | {achieved:.1f} | "
                      f"{peak:.1f} | {100 * achieved / peak:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
