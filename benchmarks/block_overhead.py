"""How much of a block-synchronous epoch runs outside the matrix products (issue 27).

Trains one block epoch (``_core.profile_block_epoch``) on the first SENTENCES sentences of a
corpus with the engine recording its sgemm calls, then replays the same calls alone on
scratch operands. Prints words/s, the seconds inside sgemm during the epoch, the replay's
seconds, and the share of the epoch spent outside sgemm. Run with one BLAS thread for NumPy
(``OPENBLAS_NUM_THREADS=1``) so its idle threads do not compete:

    OPENBLAS_NUM_THREADS=1 python benchmarks/block_overhead.py --sentences 1000 gru:400 sigmoid:200
"""

from __future__ import annotations

import argparse

import numpy as np

from rnnlm_fast import Vocabulary, _core
from rnnlm_fast.encoding import encode_file


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", default=["gru:400", "sigmoid:200"], help="cell:hidden ...")
    p.add_argument("--corpus", default="/work/shared/data/ptb/train.txt")
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--sentences", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    vocab = Vocabulary.from_corpus(a.corpus, classes=a.classes)
    enc = encode_file(vocab, a.corpus)
    n = min(a.sentences, enc.sentences)
    ids, offsets = enc.ids[: enc.offsets[n]].copy(), enc.offsets[: n + 1].copy()
    class_begin = list(np.asarray(vocab._core.class_begin))
    print(f"blas: {_core.blas_name()}; {offsets[-1]} positions; B={a.batch} T={a.steps} threads={a.threads}")
    for spec in a.models:
        cell, hidden = spec.split(":")
        m = _core.Model(vocab.size, int(hidden), class_begin, cell, 0, 0, "splitmix")
        m.init_random(1)
        o = {"lr": 1.0, "l2": 0.0, "clip_norm": 5.0, "dropout": 0.0, "batch": a.batch, "steps": a.steps,
             "independent": False, "seed": 1, "threads": a.threads}
        r = _core.profile_block_epoch(m, ids, offsets, o)
        print(f"{cell} H={hidden}: {r['processed'] / r['seconds']:.0f} words/s; epoch {r['seconds']:.2f} s, "
              f"in sgemm {r['gemm_seconds']:.2f} s ({r['gemm_calls']} calls, "
              f"{r['gemm_flops'] / r['gemm_seconds'] / 1e9:.1f} GFLOP/s); the same calls alone "
              f"{r['replay_seconds']:.2f} s; epoch / calls alone {r['seconds'] / r['replay_seconds']:.3f}; "
              f"outside sgemm {1 - r['gemm_seconds'] / r['seconds']:.1%} of the epoch", flush=True)


if __name__ == "__main__":
    main()
