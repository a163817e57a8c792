"""One training epoch timed inside the process(es), for bench_distributed.py:
``[mpiexec -n R] python distributed_epoch.py SPEC.json``. The spec names the text, the
vocabulary options, the model and the training options; with ``"ranks": 1`` the epoch is a
plain one-process epoch, else a distributed one (``comm``). Rank 0 prints one JSON line:
positions, seconds (the slowest process's), words/s, the floats each combination summed, and
each process's seconds training, waiting for the others and combining; the microseconds per
word of each phase apart (the mean over processes, each over its own positions), so the
compute figure holds no waiting."""

from __future__ import annotations

import json
import sys
import time

from rnnlm_fast import RNNLM, Vocabulary, options
from rnnlm_fast.training import epoch_engine


def main(spec: dict) -> None:
    vocab = Vocabulary.from_corpus(spec["train"], **spec["vocab"])
    model = RNNLM(vocab, **spec["model"])
    if spec.get("head_lines"):  # train on the first lines only (the vocabulary is the whole text's)
        head = f"{spec['train']}.head{spec['head_lines']}"
        with open(spec["train"], encoding="utf-8") as src, open(head, "w", encoding="utf-8") as dst:
            dst.writelines(line for _, line in zip(range(spec["head_lines"]), src))
        spec = dict(spec, train=head)
    values = dict(spec["training"], max_epochs=1, threads=spec.get("threads", 1))
    if spec["ranks"] == 1:
        enc = model.encode_file(spec["train"])
        start = time.perf_counter()
        run = {k: v for k, v in values.items() if k in (*options.EPOCH, "batch", "clip_norm")}
        stats = model.train_epoch(enc, threads=values["threads"], **run)
        seconds = time.perf_counter() - start
        out = {"positions": stats.processed, "seconds": seconds, "sync_floats": 0, "parts": 0,
               "compute_us_per_word": seconds / max(stats.processed, 1) * 1e6, "wait_us_per_word": 0.0}
    else:
        from mpi4py import MPI

        from rnnlm_fast.distributed import DistributedTrainer

        resolved = options.resolve(options.TRAINING, values)
        trainer = DistributedTrainer(model, spec["train"], spec["valid"], resolved, MPI.COMM_WORLD,
                                     progress=False)
        floats, combine_seconds = [], []
        trainer.on_sync = lambda t, epoch, part: floats.append(t.sync.floats)
        combine = trainer.sync.combine

        def timed_combine(**kw) -> None:
            start = time.perf_counter()
            combine(**kw)
            combine_seconds.append(time.perf_counter() - start)

        trainer.sync.combine = timed_combine
        MPI.COMM_WORLD.Barrier()
        engine = epoch_engine(trainer.values, trainer.schedule.lr, 1, trainer.threads)
        stats = trainer._train_epoch(engine, "benchmark")  # the epoch alone: no validation
        # each process's seconds training, waiting for the others and combining, over its own positions
        mine = dict(trainer.phase_seconds, positions=trainer.trained_positions[-1])
        phases = MPI.COMM_WORLD.gather(mine, root=0)
        if MPI.COMM_WORLD.Get_rank() != 0:
            return
        n = max(len(floats), 1)

        def us_per_word(phase: str) -> float:  # the mean over the processes
            return sum(p[phase] / max(p["positions"], 1) for p in phases) / len(phases) * 1e6

        out = {"positions": stats.processed, "seconds": stats.seconds, "parts": trainer.parts,
               "phases": [{k: round(v, 3) for k, v in p.items()} for p in phases],
               "sync_floats": sum(floats) / n, "combine_seconds": sum(combine_seconds) / n,
               "model_floats": sum(v.size for v in model.weights().values()),
               "compute_us_per_word": us_per_word("train"), "wait_us_per_word": us_per_word("wait"),
               "combine_us_per_word": us_per_word("combine")}
    out["words_per_sec"] = out["positions"] / out["seconds"]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(json.loads(open(sys.argv[1]).read()))
