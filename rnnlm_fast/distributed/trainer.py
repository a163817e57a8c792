"""Data-parallel training across the processes of an MPI communicator.

Every process reads the training text and trains on its own shard of it (contiguous
sentences, word counts in proportion to the processes' threads, so each line is seen once per
epoch across processes)
with its own threads; every ``sync_words`` words (K) they combine their weights (sync.py).
Rank 0 owns the run: its model, vocabulary and options are sent to the others at the start,
it validates after each epoch and decides the learning rate and rollbacks (rnnlm-0.4b's
schedule) for everyone, and only it writes checkpoints. Before training, the processes check
that they agree: options, model, data (by fingerprint); a disagreement is an error on all of
them. An error or Ctrl-C in one process ends the whole job (mpi.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time
import zlib
from typing import Any, Callable, Optional

import numpy as np

from .. import _core, options
from .._files import PathLike
from .._progress import make_bar, training_callback
from ..checkpoint import Checkpoint, encoded_fingerprint, file_fingerprint
from ..encoding import Encoded
from ..errors import ConfigError, DivergenceError
from ..schedule import Schedule
from ..trainable import M, Trainable
from ..training import EpochRecord, EpochStats, Text, Trainer
from .mpi import Watchdog, agreed, fatal_errors, mpi, status
from .sync import WeightSync


def rank_seed(seed: int, rank: int) -> int:
    """The dropout seed of a process: rank 0 keeps the run's (one process = one-process run)."""
    return seed if rank == 0 else (seed + rank * 0xD1B54A32D192ED03) % (1 << 64)


def shard_bounds(offsets: np.ndarray, parts: int, weights: Optional[list[float]] = None) -> list[int]:
    """Sentence indices splitting ``offsets``' sentences into ``parts`` contiguous runs of about
    equal word counts (the engine's rule for threads, corpus.cc shard_sentences), or of word
    counts in proportion to ``weights``; each run holds a sentence at least (given as many)."""
    n = len(offsets) - 1
    total = int(offsets[-1])
    cumulative = None if weights is None else np.cumsum(weights, dtype=np.float64) / float(sum(weights))
    bounds = [0]
    for p in range(1, parts):
        target = total * p // parts if cumulative is None else int(round(total * float(cumulative[p - 1])))
        s = min(int(np.searchsorted(offsets, target, side="left")), n)
        bounds.append(max(s, bounds[-1] + (n >= parts)))
    if n >= parts:  # room for a sentence in each of the runs after p
        bounds = [min(b, n - (parts - p)) for p, b in enumerate(bounds)]
    return bounds + [n]


def shard(enc: Encoded, first: int, last: int) -> Encoded:
    """Sentences [first, last) of a text, as a text of their own (copies)."""
    a, b = int(enc.offsets[first]), int(enc.offsets[last])
    return Encoded(enc.ids[a:b].copy(), (enc.offsets[first:last + 1] - a).astype(np.int64),
                   int((enc.ids[a:b] < 0).sum()), enc.mapped[a:b].copy())


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _model_digest(model: Optional[Trainable]) -> Optional[str]:
    if model is None:
        return None
    header, arrays, _ = model.file_content()
    vocab = hashlib.sha256(b"".join(arrays[k].tobytes()
                                    for k in ("vocab.words", "vocab.counts", "vocab.word_class")))
    return _digest({"config": {k: v for k, v in header["config"].items() if k != "seed"},
                    "vocab": vocab.hexdigest()})


class DistributedTrainer(Trainer):
    """A :class:`~rnnlm_fast.training.Trainer` whose epochs run across the processes of ``comm``.

    Every process constructs one (``RNNLM.train(..., comm=comm)`` does) and calls :meth:`run`.
    ``model`` may be None on processes other than rank 0 (give ``model_class``): rank 0's model
    is sent to all. ``values`` are resolved training options (None: rank 0's); each process
    keeps its own ``threads``. ``resumed`` and ``checkpoint`` matter on rank 0 only.
    ``on_sync(trainer, epoch, part)``, if set, is called after every combination (tests).
    """

    def __init__(self, model: Optional[Trainable], train: Text, valid: Text, values: Optional[dict[str, Any]],
                 comm: Any, *,
                 checkpoint: Optional[PathLike] = None, progress: bool = True,
                 callback: Optional[Callable[[EpochRecord], None]] = None,
                 resumed: Optional[Checkpoint] = None, model_class: Optional[type[Trainable]] = None,
                 threads: Optional[int] = None):
        mpi()
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()
        self.on_sync: Optional[Callable[[DistributedTrainer, int, int], None]] = None
        self.trained_positions: list[int] = []  # this process's positions trained, per epoch run
        # seconds of the last epoch this process spent training, waiting for the others at the
        # end of a block, and combining (the benchmark and docs/distributed.md's scale model read them)
        self.phase_seconds = {"train": 0.0, "wait": 0.0, "combine": 0.0}
        self.watchdog = Watchdog(comm, (values or options.DEFAULTS)["sync_timeout"])
        with fatal_errors(comm):
            self._agree_before(model, values, train, valid)
            model, values, resumed = self._receive(model, model_class, values, resumed)
            if threads is not None:
                values["threads"] = options.OPTIONS["threads"].check(threads)
            self.watchdog.timeout = values["sync_timeout"]
            lead = self.rank == 0
            super().__init__(model, train, valid, values, checkpoint=checkpoint if lead else None,
                             progress=progress and lead, callback=callback, resumed=resumed)
            self._agree_after()
            # shards in proportion to the processes' threads (equal when they run as many), so
            # that machines of unequal size end their blocks together
            threads = self._gather("the start (counting threads)", self.threads)
            bounds = shard_bounds(self.train_text.offsets, self.size,
                                  None if len(set(threads)) == 1 else threads)
            positions = np.diff(self.train_text.offsets[bounds])
            self.train_text = shard(self.train_text, bounds[self.rank], bounds[self.rank + 1])
            self.shard_start = int(positions[:self.rank].sum())
            self.shard_sentences = (bounds[self.rank], bounds[self.rank + 1])  # this process's [first, last)
            self.parts = max(1, -(-int(positions.max()) // values["sync_words"]))
            self.marks = _core.UpdateMarks(model._core)
            self.sync = WeightSync(model, comm, self.marks, values["sync"], values["block_momentum"],
                                   values["block_lr"],
                                   words_per_combination=int(positions.sum()) // self.parts)

    # --- agreement and rank 0's state -----------------------------------------------------
    def _gather(self, what: str, obj: Any) -> list:
        with self.watchdog.waiting(what):
            return self.comm.allgather(obj)

    def _agree_before(self, model: Optional[Trainable], values: Optional[dict[str, Any]], train: Text,
                      valid: Text) -> None:
        """All processes run the same rnnlm-fast, options, model and data files, or all raise."""
        def file(text: Text) -> Any:
            return None if isinstance(text, Encoded) else {k: v for k, v in file_fingerprint(text).items()}

        given = None if values is None else {k: v for k, v in values.items() if k != "threads"}
        # the package's version, read without importing the package (that would be a cycle)
        version = getattr(sys.modules.get("rnnlm_fast"), "__version__", None)
        facts = {"version": version, "options": given, "model": _model_digest(model),
                 "train": file(train), "valid": file(valid), "host": socket.gethostname(), "pid": os.getpid()}
        everyone = self._gather("the start (checking that the processes agree)", facts)
        lead = everyone[0]
        for rank, theirs in enumerate(everyone[1:], 1):
            for key, name in (("version", "rnnlm-fast version"), ("model", "model or vocabulary"),
                              ("train", "training data file"), ("valid", "validation data file")):
                if theirs[key] is not None and lead[key] is not None and theirs[key] != lead[key]:
                    raise agreed(ConfigError(
                        f"rank {rank} (on {theirs['host']}) has another {name} "
                        f"than rank 0 (on {lead['host']}): "
                        f"{theirs[key] if key != 'model' else '(digest ' + theirs[key][:12] + ')'} vs "
                        f"{lead[key] if key != 'model' else '(digest ' + lead[key][:12] + ')'}; "
                        "every process must run the same command on the same data"))
            if theirs["options"] is not None and lead["options"] is not None:
                differ = [k for k in lead["options"] if theirs["options"].get(k) != lead["options"][k]]
                if differ:
                    k = differ[0]
                    raise agreed(ConfigError(
                        f"rank {rank} has {k}={theirs['options'].get(k)!r} "
                        f"but rank 0 has {lead['options'][k]!r} "
                        f"(options that differ: {', '.join(differ)}); "
                        "every process must run with the same options"))
        if lead["model"] is None:
            raise agreed(ConfigError("rank 0 has no model to train"))

    def _receive(self, model: Optional[Trainable], model_class: Optional[type[Trainable]],
                 values: Optional[dict[str, Any]],
                 resumed: Optional[Checkpoint]) -> tuple[Trainable, dict[str, Any], Optional[Checkpoint]]:
        """Rank 0's model (vocabulary, weights, history), options and resumed state, on every process."""
        mpi()
        comm = self.comm
        if self.rank == 0:
            header, arrays, _ = model.file_content()
            meta = {"header": header, "arrays": {k: (v.shape, v.dtype.str) for k, v in arrays.items()},
                    "options": values, "seed": model.seed, "resumed": None}
            if resumed is not None:
                meta["resumed"] = {"schedule": resumed.schedule, "rollbacks": resumed.rollbacks,
                                   "options": resumed.options, "data": resumed.data,
                                   "good": sorted(resumed.good) if resumed.good is not None else None}
        else:
            meta, arrays = None, {}
        with self.watchdog.waiting("the start (receiving rank 0's model)"):
            meta = comm.bcast(meta, root=0)
            for name, (shape, dtype) in meta["arrays"].items():
                a = arrays[name] if self.rank == 0 else np.empty(shape, dtype=np.dtype(dtype))
                comm.Bcast(a.reshape(-1).view(np.uint8), root=0)
                arrays[name] = a
            good = None
            if meta["resumed"] is not None and meta["resumed"]["good"] is not None:
                good = resumed.good if self.rank == 0 else {}
                for name in meta["resumed"]["good"]:
                    a = good[name] if self.rank == 0 else np.empty_like(arrays[f"weights.{name}"])
                    comm.Bcast(a.reshape(-1).view(np.uint8), root=0)
                    good[name] = a
        if self.rank == 0:
            return model, dict(values), resumed
        cls = model_class if model is None else type(model)
        received = cls.from_file_content("rank 0's model", meta["header"], arrays)
        if model is None:
            model = received
        else:  # the caller's model takes rank 0's weights and history
            for k, v in model.weights().items():
                np.copyto(v, received.weights()[k])
            model.history, model.train_options = received.history, received.train_options
        model.seed = meta["seed"]
        mine = dict(meta["options"], threads=(values or meta["options"])["threads"])
        if meta["resumed"] is not None:
            r = meta["resumed"]
            resumed = Checkpoint(path=None, schedule=r["schedule"], rollbacks=r["rollbacks"],
                                 options=r["options"], data=r["data"], good=good)
        return model, mine, resumed

    def _agree_after(self) -> None:
        """The encoded data (rank 0's vocabulary applied to each process's files) agree."""
        mine = (encoded_fingerprint(self.train_text), encoded_fingerprint(self.valid_text))
        everyone = self._gather("the start (comparing the encoded data)", mine)
        for rank, theirs in enumerate(everyone):
            for k, which in enumerate(("training", "validation")):
                if theirs[k] != everyone[0][k]:
                    raise agreed(ConfigError(f"rank {rank} reads other {which} data than rank 0 (the encoded "
                                             "words differ); every process must read the same files"))
        if len(self.train_text.offsets) - 1 < self.size:
            raise agreed(ConfigError(f"the training text has {len(self.train_text.offsets) - 1} sentences, "
                                     f"fewer than the {self.size} processes"))

    # --- the run --------------------------------------------------------------------------
    def run(self) -> list[EpochRecord]:
        try:
            with fatal_errors(self.comm):
                return super().run()
        finally:
            self.watchdog.stop()

    def _collective(self, what: str, array: np.ndarray, op: Any) -> np.ndarray:
        with self.watchdog.waiting(what):
            self.comm.Allreduce(mpi().IN_PLACE, array, op=op)
        return array

    def _train_epoch(self, engine: "_core.TrainOptions", desc: str) -> EpochStats:
        MPI = mpi()
        epoch = self.schedule.epoch + 1
        engine.seed = rank_seed(engine.seed, self.rank)
        self.sync.begin_epoch()
        text = self.train_text
        # batch > 1: the block trainer's epoch in the same parts (its streams kept between them)
        epoch_run = _core.BlockEpochRun if isinstance(engine, _core.BlockTrainOptions) else _core.EpochRun
        run = epoch_run(self.model._core, text.mapped, text.offsets, engine, self.marks)
        bar = make_bar(self.progress, len(text.mapped), desc)
        start = time.perf_counter()
        st: dict[str, Any] = {}
        flags = np.zeros(2, dtype=np.uint8)
        clock = self.phase_seconds = {"train": 0.0, "wait": 0.0, "combine": 0.0}
        try:
            for part in range(1, self.parts + 1):
                status(f"epoch {epoch}, block {part} of {self.parts}")
                t0 = time.perf_counter()
                st = run.run(part, self.parts, training_callback(bar))
                flags[:] = (st["diverged"], st["interrupted"])
                t1 = time.perf_counter()
                self._collective(f"epoch {epoch}, block {part} of {self.parts}", flags, MPI.BOR)
                t2 = time.perf_counter()
                if flags.any():
                    self._stopped_together = bool(flags[1])
                    break
                with self.watchdog.waiting(f"the combination after block {part} of {self.parts}, "
                                           f"epoch {epoch}"):
                    self.sync.combine(last=part == self.parts)
                clock["train"] += t1 - t0
                clock["wait"] += t2 - t1
                clock["combine"] += time.perf_counter() - t2
                if self.on_sync is not None:
                    self.on_sync(self, epoch, part)
        finally:
            if bar is not None:
                bar.close()
        self.trained_positions.append(int(st["processed"]))
        seconds = time.perf_counter() - start
        where = st["diverged_at"] + self.shard_start if st["diverged_at"] >= 0 else np.iinfo(np.int64).max
        totals = self._collective("the end of the epoch",
                                  np.array([st["logprob"], st["words"], st["processed"]]), MPI.SUM)
        extremes = self._collective("the end of the epoch",
                                    np.array([seconds, -where], dtype=np.float64), MPI.MAX)
        if not flags.any():
            self._check_same_weights(epoch)
        return EpochStats(float(totals[0]), int(totals[1]), int(totals[2]), float(extremes[0]),
                          bool(flags[0]), int(-extremes[1]) if flags[0] else -1, bool(flags[1]))

    def checksum(self) -> int:
        """CRC-32 of all the weights (the same on every process after a combination)."""
        crc = 0
        for v in self.model.weights().values():
            crc = zlib.crc32(v.reshape(-1).view(np.uint8), crc)
        return crc

    def _check_same_weights(self, epoch: int) -> None:
        sums = self._gather(f"the end of epoch {epoch}", self.checksum())
        if len(set(sums)) > 1:
            raise agreed(ConfigError(f"after epoch {epoch} the processes hold different weights (CRC-32 "
                                     f"{', '.join(f'{s:08x}' for s in sums)}): the MPI library's Allreduce "
                                     "gave different sums on different processes"))

    def _validate(self) -> float:
        value = super()._validate() if self.rank == 0 else None
        with self.watchdog.waiting("validation (by rank 0)"):
            return self.comm.bcast(value, root=0)

    def _decide(self, valid_logprob: float, seconds: float) -> bool:
        decision = ((super()._decide(valid_logprob, seconds), self.schedule.state())
                    if self.rank == 0 else None)
        with self.watchdog.waiting("the schedule's decision (by rank 0)"):
            kept, state = self.comm.bcast(decision, root=0)
        if self.rank != 0:
            self.schedule = Schedule(**state)
        return kept

    def _roll_back(self, stats: EpochStats) -> EpochRecord:
        try:
            return super()._roll_back(stats)
        except DivergenceError as e:  # every process gives up at the same epoch
            raise agreed(e) from None

    def step(self) -> EpochRecord:
        self._stopped_together = False
        try:
            return super().step()
        except KeyboardInterrupt as e:
            if self._stopped_together:  # every process saw the combined flag
                raise agreed(e) from None
            raise


def resume(cls: type[M], path: PathLike, train: Text, valid: Text, comm: Any, *,
           threads: Optional[int] = None, checkpoint: Optional[PathLike] = None, progress: bool = True,
           callback: Optional[Callable[[EpochRecord], None]] = None) -> M:
    """``RNNLM.resume(..., comm=comm)``: rank 0 reads the checkpoint at ``path`` (the others
    need not see it) and the run goes on across the processes, however many they are now."""
    from ..checkpoint import load_checkpoint, remove_stale_temporaries

    model = state = values = target = None
    if comm.Get_rank() == 0:
        with fatal_errors(comm):
            model, state = load_checkpoint(cls, path)
            state.check_files(train, valid)
            values = dict(state.options)
            target = path if checkpoint is None else checkpoint
            remove_stale_temporaries(target)
    trainer = DistributedTrainer(model, train, valid, values, comm, checkpoint=target, progress=progress,
                                 callback=callback, resumed=state, model_class=cls, threads=threads)
    trainer.run()
    return trainer.model
