"""Training: one epoch of SGD (:func:`train_epoch`) and whole runs (:class:`Trainer`).

A run follows rnnlm-0.4b's schedule (rnnlm_fast/schedule.py): after each epoch the
validation log-likelihood decides whether the weights are kept or restored and when the
learning rate starts halving. The Trainer owns that loop, the rollback on divergence, the
checkpoint written after every epoch, and resuming from one. It works on the model it is
given and never imports rnnlm_fast.model (the model's ``train``/``resume`` call in here).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _core, options
from ._files import PathLike
from ._progress import make_bar, training_callback
from .checkpoint import (
    Checkpoint,
    CheckpointWriter,
    check_resumed_data,
    data_fingerprint,
    load_checkpoint,
    remove_stale_temporaries,
)
from .encoding import Encoded, encode_for
from .errors import ConfigError, DivergenceError
from .schedule import Schedule
from .trainable import M, Trainable

log = logging.getLogger("rnnlm_fast")

Text = Union[PathLike, Encoded]


def power(base: float, exponent: float) -> float:
    """``base ** exponent``, but inf instead of OverflowError (a barely trained model can
    assign such tiny probabilities that its perplexity overflows a double)."""
    try:
        return base**exponent
    except OverflowError:
        return math.inf


def resolve_threads(threads: int) -> int:
    """0 means every core this process may use."""
    threads = options.OPTIONS["threads"].check(threads)
    if threads == 0:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    return threads


@dataclass
class EpochRecord:
    """One line of the training history."""

    epoch: int
    lr: float
    train_entropy: float  # bits per word
    train_ppl: float
    valid_entropy: float
    valid_ppl: float
    words_per_sec: float
    seconds: float
    kept: bool  # False when validation got worse and the previous weights were restored
    diverged: bool = False


@dataclass
class EpochStats:
    """What one pass of :func:`train_epoch` did."""

    logprob: float  # sum of ln P over the scored training words (before each update)
    words: int  # scored words
    processed: int  # positions processed
    seconds: float
    diverged: bool
    diverged_at: int  # position of the first non-finite probability, -1 when none
    interrupted: bool
    positions: Optional[np.ndarray] = None  # ln P of every position, with return_positions

    @property
    def words_per_sec(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else math.nan

    @property
    def entropy(self) -> float:
        """Training entropy in bits per word."""
        return -self.logprob / max(self.words, 1) / math.log(2)


def as_encoded(model: Trainable, text: Text, progress: bool = False) -> Encoded:
    """A file encoded for ``model``, or an Encoded checked to be in its reading order."""
    return encode_for(model.vocab, model.backward, text, progress)


def engine_options(values: dict[str, Any], lr: float, seed: int, threads: int,
                   streams: int = options.DEFAULTS["streams"]) -> "_core.TrainOptions":
    """The engine's options of one epoch, from resolved training options."""
    epoch = {name: values[name] for name in options.EPOCH} | {"lr": options.lr_for_streams(lr, streams)}
    return _core.TrainOptions(**epoch, seed=seed, threads=threads, streams=streams)


def epoch_engine(values: dict[str, Any], lr: float, seed: int, threads: int) -> Any:
    """The engine's options of one training epoch: block-synchronous mini-batches (batch > 1) or
    online SGD with the run's streams."""
    if values["batch"] > 1:
        return block_options(values, lr, seed, threads)
    return engine_options(values, lr, seed, threads, values["streams"])


def block_options(values: dict[str, Any], lr: float, seed: int, threads: int) -> "_core.BlockTrainOptions":
    """The block-synchronous engine's options of one epoch (batch > 1): B = batch streams, T = bptt
    steps per block (gradient_cutoff and bptt_block are online SGD's and unused here)."""
    return _core.BlockTrainOptions(lr=lr, l2=values["l2"], clip_norm=values["clip_norm"],
                                   dropout=values["dropout"], input_dropout=values["input_dropout"],
                                   batch=values["batch"], steps=values["bptt"],
                                   independent=values["independent"], seed=seed, threads=threads)


def check_batch(values: dict[str, Any], model: Trainable) -> None:
    """Options that batch > 1 (block-synchronous training) does not combine with, and what only it
    trains (an embedding layer): one-line ConfigErrors."""
    if values["batch"] <= 1:
        if getattr(model, "embedding", 0):
            raise ConfigError(f"this model has an embedding layer ({model.embedding} wide), which trains "
                              "block-synchronously only: give batch > 1 (e.g. --batch 16)")
        return
    if values["streams"] > 1:
        raise ConfigError(f"batch {values['batch']} and streams {values['streams']}: choose one (batch "
                          "trains block-synchronous mini-batches, streams advances lockstep online SGD)")


def _run_epoch(core: Any, enc: Encoded, engine: Any, progress: bool, desc: str,
               return_positions: bool = False) -> EpochStats:
    """One epoch on the engine the options are for: online SGD (TrainOptions) or block-synchronous
    mini-batches (BlockTrainOptions)."""
    bar = make_bar(progress, len(enc.mapped), desc)
    start = time.perf_counter()
    try:
        if isinstance(engine, _core.BlockTrainOptions):
            if return_positions:
                raise ConfigError("return_positions needs batch=1 (positions are scored in order)")
            st = _core.train_block_epoch(core, enc.mapped, enc.offsets, engine,
                                         progress=training_callback(bar))
        else:
            st = _core.train_epoch(core, enc.mapped, enc.offsets, engine, progress=training_callback(bar),
                                   return_positions=return_positions)
    finally:
        if bar is not None:
            bar.close()
    return EpochStats(st["logprob"], st["words"], st["processed"], time.perf_counter() - start,
                      st["diverged"], st["diverged_at"], st["interrupted"], st.get("positions"))


@options.keyword_signature(options.EPOCH)
def train_epoch(model: Trainable, text: Text, *, seed: int = options.DEFAULTS["seed"],
                threads: int = options.DEFAULTS["threads"],
                streams: int = options.DEFAULTS["streams"], batch: int = options.DEFAULTS["batch"],
                clip_norm: float = options.DEFAULTS["clip_norm"], progress: bool = False,
                return_positions: bool = False, **training: Any) -> EpochStats:
    """One epoch of online SGD with truncated BPTT over ``text``, updating ``model`` in place.

    No validation, schedule or rollback (see :class:`Trainer`): what benchmarks and tests
    time and check. ``lr`` defaults to the cell's; ``seed`` seeds the dropout masks; ``streams``
    sentences streams per thread are trained side by side (see the ``streams`` option); ``batch`` > 1
    trains block-synchronous mini-batches instead (the ``batch`` and ``clip_norm`` options).

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C (the weights hold the updates made so far).
    ConfigError, CorpusError, MissingFileError
    """
    given = dict(training, streams=streams, batch=batch, clip_norm=clip_norm)
    values = options.resolve(options.EPOCH + ("streams", "batch", "clip_norm"), given, "training option")
    check_batch(values, model)
    lr = values["lr"] if values["lr"] is not None else options.lr_for(model.cell, values["batch"])
    enc = as_encoded(model, text, progress)
    if return_positions and values["streams"] != 1:
        raise ConfigError("return_positions needs streams=1 (positions are scored in order)")
    threads = resolve_threads(threads)
    engine = epoch_engine(values, lr, seed, threads)
    stats = _run_epoch(model._core, enc, engine, progress, f"epoch lr {lr:.4g}", return_positions)
    if stats.interrupted:
        raise KeyboardInterrupt("training interrupted")
    return stats


def dynamic_positions(model: Trainable, enc: Encoded, independent: bool, lr: float,
                      progress: bool) -> np.ndarray:
    """ln P of every position under rnnlm-0.4b's dynamic evaluation, on a copy of the weights:
    each word is scored, then trained on with ``lr`` and the model's BPTT settings and L2."""
    if getattr(model, "embedding", 0):
        raise ConfigError(f"dynamic evaluation adapts the model by online SGD, which has no embedding layer; "
                          f"this model has one ({model.embedding} wide): score it without --dynamic")
    if len(enc.ids) == 0:
        return np.zeros(0)
    values = options.resolve(options.EPOCH,
                             {k: v for k, v in model.train_options.items() if k in options.EPOCH})
    values["independent"], values["dropout"], values["input_dropout"] = independent, 0.0, 0.0
    stats = _run_epoch(model._core.copy(), enc, engine_options(values, lr, 1, 1), progress,
                       f"dynamic evaluation lr {lr:g}", return_positions=True)
    if stats.interrupted:
        raise KeyboardInterrupt("dynamic evaluation interrupted")
    if stats.diverged:
        raise DivergenceError(f"dynamic evaluation diverged (NaN/Inf) at word {stats.diverged_at} with "
                              f"learning rate {lr:g}; use a smaller dynamic learning rate")
    return stats.positions


def _epoch_seed(seed: int, epoch: int, rollbacks: int) -> int:
    """Seed of an epoch's dropout masks: fixed by the model's seed and the schedule's state,
    so a resumed run draws the masks an uninterrupted one would."""
    return (seed * 1_000_003 + epoch * 7_919 + rollbacks * 104_729) % (1 << 64)


class Trainer:
    """A training run of ``model`` on ``train`` with ``valid`` driving the schedule.

    ``values`` are the resolved training options (see :func:`rnnlm_fast.options.resolve`).
    :meth:`step` runs one epoch and its validation; :meth:`run` steps until the schedule
    is done. With ``checkpoint``, the run's state is written there before the first epoch
    and after every epoch; :func:`resume` continues from it.
    """

    def __init__(self, model: Trainable, train: Text, valid: Text, values: dict[str, Any], *,
                 checkpoint: Optional[PathLike] = None, progress: bool = True,
                 callback: Optional[Callable[[EpochRecord], None]] = None,
                 resumed: Optional[Checkpoint] = None):
        self.model, self.values, self.progress, self.callback = model, values, progress, callback
        self.threads = resolve_threads(values["threads"])
        check_batch(values, self.model)
        self.lr = values["lr"] if values["lr"] is not None else options.lr_for(model.cell, values["batch"])
        self.train_text, self.valid_text = (as_encoded(model, train, progress),
                                            as_encoded(model, valid, progress))
        # what the model file records: the options that shaped the weights, not how the run was executed
        model.train_options = {n: (self.lr if n == "lr" else values[n]) for n in options.RECORDED}
        self.saver: Optional[CheckpointWriter] = None
        if checkpoint is not None:
            data = {"train": data_fingerprint(train, self.train_text),
                    "valid": data_fingerprint(valid, self.valid_text)}
            if resumed is not None:
                check_resumed_data(checkpoint, data, resumed.data)
            self.saver = CheckpointWriter(checkpoint, dict(values, lr=self.lr), data)
        if resumed is None:
            self.schedule = Schedule(lr=self.lr, min_improvement=values["min_improvement"],
                                     max_epochs=values["max_epochs"],
                                     **{o.name: values[o.name] for o in options.group("stopping")})
            self.rollbacks = 0
            model.history = []
        else:  # the history came with the model
            self.schedule = Schedule(**resumed.schedule)
            self.rollbacks = resumed.rollbacks
        self.good = {k: v.copy() for k, v in model.weights().items()}
        if resumed is not None and resumed.good is not None:
            for k, v in resumed.good.items():
                np.copyto(self.good[k], v)
        self._since = time.perf_counter()  # the last decision: the budget counts checkpoint writes too
        if self.saver is not None and resumed is None:
            self.saver.save(model, self.schedule, self.rollbacks, self.good)

    @property
    def done(self) -> bool:
        return self.schedule.done

    def run(self) -> list[EpochRecord]:
        """Train until the schedule stops; returns (and keeps in ``model.history``) the history.

        Raises KeyboardInterrupt (after restoring the last good weights), DivergenceError.
        """
        while not self.done:
            if self.schedule.before_epoch():
                self.step()
            elif self.saver is not None:  # its time budget is spent (a resumed run): the checkpoint says so
                self.saver.save(self.model, self.schedule, self.rollbacks, self.good)
        log.info("training stopped after epoch %d (%s)", self.schedule.epoch,
                 self.schedule.stop_reason or "done")
        return self.model.history

    def step(self) -> EpochRecord:
        """One epoch, its validation and the schedule's decision; returns its record."""
        model, schedule = self.model, self.schedule
        seed = _epoch_seed(model.seed, schedule.epoch, self.rollbacks)
        engine = epoch_engine(self.values, schedule.lr, seed, self.threads)
        stats = self._train_epoch(engine, f"epoch {schedule.epoch + 1} lr {schedule.lr:.4g}")
        if stats.interrupted:
            self._restore()
            raise KeyboardInterrupt("training interrupted; the model keeps its last good weights")
        if stats.diverged:
            return self._roll_back(stats)
        try:
            valid_logprob = self._validate()
        except KeyboardInterrupt:
            self._restore()
            raise
        n_valid = int((self.valid_text.ids >= 0).sum())
        epoch_lr = schedule.lr
        now = time.perf_counter()
        kept, self._since = self._decide(valid_logprob, now - self._since), now
        if kept:
            for k, v in model.weights().items():
                np.copyto(self.good[k], v)
        else:
            self._restore()
        valid_entropy = -valid_logprob / max(n_valid, 1) / math.log(2)
        record = EpochRecord(epoch=schedule.epoch, lr=epoch_lr, train_entropy=stats.entropy,
                             train_ppl=power(2.0, stats.entropy), valid_entropy=valid_entropy,
                             valid_ppl=power(2.0, valid_entropy), words_per_sec=stats.words_per_sec,
                             seconds=stats.seconds, kept=kept)
        model.history.append(record)
        log.info("epoch %d lr %.5g train ppl %.2f valid ppl %.2f %.0f words/s%s", record.epoch, record.lr,
                 record.train_ppl, record.valid_ppl, record.words_per_sec, "" if kept else " (restored)")
        if self.saver is not None:
            self.saver.save(model, schedule, self.rollbacks, self.good)
        if self.callback is not None:
            self.callback(record)
        return record

    # --- the steps of an epoch (rnnlm_fast/distributed/ runs them across processes) -------
    def _train_epoch(self, engine: Any, desc: str) -> EpochStats:
        return _run_epoch(self.model._core, self.train_text, engine, self.progress, desc)

    def _validate(self) -> float:
        """The validation log-likelihood (natural log) of the current weights."""
        valid = self.valid_text
        positions = _core.score_positions(self.model._core, valid.mapped, valid.offsets,
                                          self.values["independent"], self.threads, None)
        return float(positions[valid.ids >= 0].sum())

    def _decide(self, valid_logprob: float, seconds: float) -> bool:
        """The schedule's decision after an epoch (``seconds`` of training and validation): keep
        its weights or not."""
        return self.schedule.after_epoch(valid_logprob, seconds)

    def _restore(self) -> None:
        for k, v in self.model.weights().items():
            np.copyto(v, self.good[k])

    def _roll_back(self, stats: EpochStats) -> EpochRecord:
        """Restore the last good weights and halve the learning rate, or give up."""
        schedule = self.schedule
        self._restore()
        self.rollbacks += 1
        msg = (f"training diverged (NaN/Inf) at word {stats.diverged_at} of epoch {schedule.epoch + 1} "
               f"with lr {schedule.lr:g}")
        policy, most = self.values["on_divergence"], self.values["max_rollbacks"]
        if policy == "raise" or self.rollbacks > most:
            raise DivergenceError(msg + ("" if policy == "raise" else f"; gave up after {most} rollbacks"))
        log.warning("%s: restored the last good weights, halving the learning rate", msg)
        record = EpochRecord(schedule.epoch + 1, schedule.lr, math.nan, math.nan, math.nan, math.nan,
                             stats.words_per_sec, stats.seconds, False, True)
        self.model.history.append(record)
        schedule.lr /= 2
        schedule.elapsed += stats.seconds
        self._since += stats.seconds  # (counted here)
        if self.saver is not None:
            self.saver.save(self.model, schedule, self.rollbacks, self.good)
        return record


def resume(cls: type[M], path: PathLike, train: Text, valid: Text, *, threads: Optional[int] = None,
           checkpoint: Optional[PathLike] = None, progress: bool = True,
           callback: Optional[Callable[[EpochRecord], None]] = None) -> M:
    """Body of ``RNNLM.resume``: load the checkpoint at ``path`` as a ``cls``, check the data,
    and run the rest of its training (checkpoints keep going to ``checkpoint`` or ``path``)."""
    model, state = load_checkpoint(cls, path)
    state.check_files(train, valid)
    values = dict(state.options)
    if threads is not None:
        values["threads"] = options.OPTIONS["threads"].check(threads)
    target = path if checkpoint is None else checkpoint
    remove_stale_temporaries(target)
    Trainer(model, train, valid, values, checkpoint=target, progress=progress, callback=callback,
            resumed=state).run()
    return model
