"""Run under mpiexec by tests/test_distributed_mpi.py: ``python mpi_worker.py MODE DIR``.

Trains small models on the generated corpora in DIR (train.txt, valid.txt) and writes what the
test checks to DIR/<mode>.rank<r>.json. Modes: ``equal`` (one process: the distributed run
equals the plain one, bit for bit), ``shards`` (shards in proportion to the processes'
threads), ``syncs`` (the weights' checksum after every combination, the shard, its positions
and the positions trained in each epoch), ``fail`` (rank 1 raises in epoch 2), ``hang`` (rank
1 stops answering), ``disagree`` (rank 1 has another learning rate), ``combine`` (the
combinations against NumPy's average and BMUF step of every process's weights), ``bmuf``
(``train()`` with BMUF's options set, every combination recorded in DIR/bmuf.train: see
mpi_cli.py), ``budget`` (resume DIR/budget.ckpt, whose time budget is spent).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from rnnlm_fast import RNNLM, ConfigError, Vocabulary, _core, options
from rnnlm_fast.distributed import DistributedTrainer
from rnnlm_fast.distributed.sync import WeightSync

# (cell, direct table size, dropout, direction, batch): every cell, direct connections, dropout,
# backward; the GRU (and in "syncs" the sixth case) with several streams per process; the last two
# block-synchronous (batch > 1: the block trainer's epoch in parts)
CASES = [("sigmoid", 0, 0.0, "forward", 1), ("tanh", 0, 0.0, "backward", 1),
         ("relu", 0, 0.0, "forward", 1), ("gru", 512, 0.25, "forward", 1), ("lstm", 512, 0.0, "forward", 1),
         ("sigmoid", 300, 0.0, "backward", 1), ("lstm", 512, 0.25, "forward", 4),
         ("gru", 0, 0.0, "backward", 3)]
RUN = dict(max_epochs=2, bptt=3, bptt_block=5, threads=1, min_improvement=1.0)


def model(vocab: Vocabulary, cell: str, direct: int, direction: str, batch: int = 1) -> RNNLM:
    """The case's model; the LSTM with batch 4 has an embedding layer (its projection syncs dense)."""
    return RNNLM(vocab, hidden=8, cell=cell, seed=3, direct=direct, direct_order=3, direction=direction,
                 embedding=6 if batch == 4 else 0)


def main(mode: str, d: Path) -> None:
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    train, valid = d / "train.txt", d / "valid.txt"
    vocab = Vocabulary.from_corpus(train, classes=4)
    out: dict = {"rank": rank, "size": comm.Get_size(), "cases": []}
    if mode == "equal":
        for cell, direct, dropout, direction, batch in CASES:
            kw = dict(RUN, dropout=dropout, input_dropout=dropout, progress=False, batch=batch,
                      streams=4 if cell == "gru" and batch == 1 else 1)
            plain = model(vocab, cell, direct, direction, batch)
            plain.train(train, valid, **kw)
            dist = model(vocab, cell, direct, direction, batch)
            dist.train(train, valid, comm=comm, sync_words=100, **kw)
            same = all(np.array_equal(v, dist.weights()[k]) for k, v in plain.weights().items())
            out["cases"].append({"case": [cell, direct, dropout, direction, batch], "same": same,
                                 "history": ([r.valid_ppl for r in plain.history]
                                             == [r.valid_ppl for r in dist.history])})
    elif mode == "syncs":
        for i, (cell, direct, dropout, direction, batch) in enumerate(CASES):
            values = options.resolve(options.TRAINING, dict(RUN, dropout=dropout, sync_words=60, batch=batch,
                                                            sync="bmuf" if i % 2 else "average",
                                                            streams=3 if i in (3, 5) else 1))
            trainer = DistributedTrainer(model(vocab, cell, direct, direction, batch), train, valid, values,
                                         comm, progress=False)
            sums: list = []
            trainer.on_sync = lambda t, epoch, part: sums.append([epoch, part, t.checksum()])
            history = trainer.run()
            out["cases"].append({"case": [cell, direct, dropout, direction, batch], "sums": sums,
                                 "trained": trainer.trained_positions,
                                 "shard": list(trainer.shard_sentences), "parts": trainer.parts,
                                 "positions": int(trainer.train_text.offsets[-1]),
                                 "valid_ppl": [r.valid_ppl for r in history]})
    elif mode == "shards":  # rank 0 runs 2 threads, the others 1: shards in proportion
        values = options.resolve(options.TRAINING, dict(RUN, sync_words=40))
        trainer = DistributedTrainer(model(vocab, "sigmoid", 0, "forward"), train, valid, values, comm,
                                     progress=False, threads=2 if rank == 0 else 1)
        sums: list = []
        trainer.on_sync = lambda t, epoch, part: sums.append(t.checksum())
        trainer.run()
        out["cases"].append({"sums": sums, "trained": trainer.trained_positions})
    elif mode == "fail":
        def callback(record):
            if rank == 1 and record.epoch == 1:
                raise RuntimeError("injected failure")
        model(vocab, "sigmoid", 0, "forward").train(train, valid, comm=comm, callback=callback,
                                                   progress=False, **dict(RUN, max_epochs=3))
    elif mode == "hang":  # rank 1 stops answering: the others' watchdog ends the job
        def stall(record):
            if rank == 1:
                time.sleep(60)
        model(vocab, "sigmoid", 0, "forward").train(train, valid, comm=comm, callback=stall, progress=False,
                                                   sync_timeout=2, **dict(RUN, max_epochs=3))
    elif mode == "disagree":
        try:
            model(vocab, "sigmoid", 0, "forward").train(train, valid, comm=comm, progress=False,
                                                       **dict(RUN, lr=0.2 if rank == 1 else 0.1))
        except ConfigError as e:
            out["error"] = str(e)
    elif mode == "bmuf":
        from mpi_cli import record_combinations

        record_combinations(d / "bmuf.train")
        model(vocab, "sigmoid", 300, "forward").train(train, valid, comm=comm, progress=False, sync="bmuf",
                                                     sync_words=60, block_lr=0.7, block_momentum=0.3, **RUN)
    elif mode == "budget":
        resumed = RNNLM.resume(d / "budget.ckpt", train, valid, comm=comm, progress=False)
        out["epochs"] = [r.epoch for r in resumed.history]
    elif mode == "combine":
        for rule in ("average", "bmuf"):
            out["cases"].append(check_combinations(model(vocab, "lstm", 300, "forward"), comm, rule))
    (d / f"{mode}.rank{rank}.json").write_text(json.dumps(out))


def check_combinations(m: RNNLM, comm, rule: str, rounds: int = 3) -> dict:
    """Each process changes random blocks of every array (and marks them), then combines; the
    result is compared with NumPy's average (and BMUF's step, taken on the blocks some process
    marked) of all the processes' weights."""
    rank, size = comm.Get_rank(), comm.Get_size()
    marks = _core.UpdateMarks(m._core)
    # slices cut by frequency
    sync = WeightSync(m, comm, marks, rule, block_lr=0.9, words_per_combination=2000)
    w = m.weights()
    sync.begin_epoch()
    start = {k: v.copy() for k, v in w.items()}
    delta = {k: np.zeros_like(v) for k, v in w.items()}
    V, C = marks.embed_rows, marks.classes
    word_class = np.repeat(np.arange(C), np.diff(m.vocab.class_begin))
    worst, exact = 0.0, True
    for r in range(rounds):
        rng = np.random.default_rng([r, rank, rule == "bmuf"])
        flags = sync.map
        flags[:] = rng.random(flags.size) < 0.3
        mine = {"embed": np.repeat(flags[:V], w["embed"].shape[1]).astype(bool),
                "word_w": np.repeat(flags[V:V + C][word_class], w["word_w"].shape[1]).astype(bool),
                "word_b": flags[V:V + C][word_class].astype(bool),
                "direct": np.repeat(flags[V + C:], _core.DIRECT_BLOCK)[:w["direct"].size].astype(bool)}
        for k, v in w.items():
            changed = mine.get(k, np.ones(v.size, dtype=bool))
            flat = v.reshape(-1)
            flat[changed] += rng.normal(0, 0.1, int(changed.sum())).astype(np.float32)
        before = comm.allgather({k: v.copy() for k, v in w.items()})
        last = r == rounds - 1
        sync.combine(last=last)
        for k, v in w.items():
            total = before[0][k].copy()
            for other in before[1:]:
                total += other[k]
            average = total * np.float32(1.0 / size)
            marked = comm.allreduce(mine.get(k, np.ones(v.size, dtype=bool)).reshape(v.shape), op=MPI.BOR)
            average = np.where(marked, average, before[rank][k])
            want = average
            if rule == "bmuf" and k != "direct":  # the step on marked blocks; the others stay as they were
                mom, lr = np.float32(1 - 1 / size), np.float32(0.9)
                delta[k] = np.where(marked, mom * delta[k] + lr * (average - start[k]), delta[k])
                want = np.where(marked, start[k] + delta[k], before[rank][k])
                if not last:
                    want = start[k] = np.where(marked, want + mom * delta[k], start[k])
            worst = max(worst, float(np.max(np.abs(v - want))))
            exact = exact and bool(np.array_equal(v, want))
    return {"rule": rule, "worst": worst, "exact": exact}


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
