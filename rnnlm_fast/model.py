"""RNNLM: the class-factored Elman recurrent language model of rnnlm-0.4b, in-process.

Training, perplexity, sentence and per-word scoring, save and load. The work happens in
the C++ engine (``rnnlm_fast._core``), which releases the GIL; this module checks
arguments, runs the epoch schedule, and owns the model file.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _core
from ._files import PathLike, require_file
from ._progress import counter_callback, make_bar, training_callback
from .errors import ConfigError, DivergenceError, ModelFormatError, VocabularyError
from .model_file import read_model, write_model
from .schedule import Schedule
from .vocab import Vocabulary

log = logging.getLogger("rnnlm_fast")

ACTIVATIONS = ("sigmoid", "tanh", "relu")
CELLS = ACTIVATIONS + ("gru", "lstm")
GATES = {"sigmoid": 1, "tanh": 1, "relu": 1, "gru": 3, "lstm": 4}
# Initial learning rates that train stably with online SGD: rnnlm-0.4b's 0.1 for sigmoid;
# tanh and relu pass up to 4x larger errors back through time and blow up at 0.1, as do
# gated cells with long BPTT (measured on the bundled books and PTB; see README).
DEFAULT_LR = {"sigmoid": 0.1, "tanh": 0.01, "relu": 0.01, "gru": 0.02, "lstm": 0.05}
OOV_POLICIES = ("auto", "unk", "penalty")
DIRECTIONS = ("forward", "backward")
LN10 = math.log(10.0)
_WEIGHTS = ("embed", "recurrent", "hidden_bias", "class_w", "class_b", "word_w", "word_b")


def _power(base: float, exponent: float) -> float:
    """``base ** exponent``, but inf instead of OverflowError (a barely trained model can
    assign such tiny probabilities that its perplexity overflows a double)."""
    try:
        return base**exponent
    except OverflowError:
        return math.inf


def resolve_threads(threads: int) -> int:
    """0 means every core this process may use."""
    if threads == 0:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    if threads < 0:
        raise ConfigError(f"threads must be >= 0 (0 = all cores), not {threads}")
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
class PerplexityResult:
    """Perplexity of a text, as rnnlm-0.4b reports it (and with OOV words included).

    ``ppl`` excludes words outside the vocabulary (rnnlm-0.4b's and SRILM's convention);
    ``ppl_with_oov`` scores them as ``<unk>`` when the vocabulary has it, else with the
    fixed ``oov_penalty`` (log10).
    """

    ppl: float
    ppl_with_oov: float
    log10_prob: float  # total over in-vocabulary words
    entropy: float  # bits per in-vocabulary word
    words: int  # scored positions, </s> included, OOV excluded
    oov: int
    sentences: int
    seconds: float = 0.0
    # log10 of every position (</s> included), unknown words as in ppl_with_oov; only with
    # perplexity(..., per_word=True)
    word_log10: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def words_per_sec(self) -> float:
        return (self.words + self.oov) / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class Encoded:
    """A text encoded for the engine: ids with unknown words as -1, and sentence offsets."""

    ids: np.ndarray
    offsets: np.ndarray
    oov: int
    mapped: np.ndarray = field(repr=False, default=None)  # ids with unknown words as <unk>
    # For a backward model the words of each sentence are stored last to first (``</s>`` stays
    # at the end); ``order[i]`` is the text position of stored position i (its own inverse).
    order: Optional[np.ndarray] = field(repr=False, default=None)

    @property
    def sentences(self) -> int:
        return len(self.offsets) - 1

    def in_text_order(self, per_position: np.ndarray) -> np.ndarray:
        """Per-position values (in stored order) rearranged into the text's word order."""
        return per_position if self.order is None else per_position[self.order]


def _reversal(offsets: np.ndarray) -> np.ndarray:
    """The permutation that reverses the words of every sentence, keeping each final </s>."""
    n = int(offsets[-1])
    lengths = np.diff(offsets)
    sentence = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(n, dtype=np.int64)
    last = offsets[1:][sentence] - 1  # the </s> of each position's sentence
    return np.where(position == last, position, offsets[:-1][sentence] + last - 1 - position)


def _epoch_seed(seed: int, epoch: int, rollbacks: int) -> int:
    """Seed of an epoch's dropout masks: fixed by the model's seed and the schedule's state,
    so a resumed run draws the masks an uninterrupted one would."""
    return (seed * 1_000_003 + epoch * 7_919 + rollbacks * 104_729) % (1 << 64)


class RNNLM:
    """A recurrent neural network language model with a class-factored softmax.

    Parameters
    ----------
    vocab : Vocabulary
        Words and classes; fixes the output layer.
    hidden : int
        Size of the recurrent (hidden) layer.
    cell : {"sigmoid", "tanh", "relu", "gru", "lstm"}
        The recurrent cell: an Elman layer with that nonlinearity (sigmoid is rnnlm-0.4b's),
        or a GRU / LSTM cell. ``activation`` is accepted as another name for it.
    direct : int
        Size of the hashed max-ent "direct connections" table, in weights (rnnlm-0.4b's
        ``-direct`` is in millions); 0 = none.
    direct_order : int
        N-gram order of the direct connections (features of orders 0..N-1 over the
        preceding words), as rnnlm-0.4b's ``-direct-order``.
    seed : int
        Seeds the initial weights (rnnlm-0.4b's: each the sum of three U(-0.1, 0.1)).
    direction : {"forward", "backward"}
        A backward model reads every sentence from its last word to its first (``</s>``
        still ends it): it scores P(w_i | w_i+1 ... w_n). Training, scoring and per-word
        results take and give text in its usual order; the reversal is internal. Backward
        and forward models of the same text make a strong pair for n-best rescoring.

    Examples
    --------
    >>> vocab = Vocabulary.from_corpus("train.txt", classes=100)        # doctest: +SKIP
    >>> model = RNNLM(vocab, hidden=200)                                # doctest: +SKIP
    >>> history = model.train("train.txt", "valid.txt")                 # doctest: +SKIP
    >>> model.perplexity("test.txt").ppl                                # doctest: +SKIP
    """

    def __init__(self, vocab: Vocabulary, hidden: int = 100, cell: str = "sigmoid", seed: int = 1, *,
                 direct: int = 0, direct_order: int = 3, activation: Optional[str] = None,
                 direction: str = "forward"):
        if not isinstance(vocab, Vocabulary):
            raise ConfigError("vocab must be a rnnlm_fast.Vocabulary")
        if activation is not None:
            cell = activation
        if cell not in CELLS:
            raise ConfigError(f"cell must be one of {CELLS}, not {cell!r}")
        if not isinstance(direct, (int, np.integer)) or direct < 0:
            raise ConfigError(f"direct must be a non-negative number of weights, not {direct!r}")
        if direct and (not isinstance(direct_order, (int, np.integer)) or not 1 <= direct_order <= 32):
            raise ConfigError(f"direct_order must be in 1..32, not {direct_order!r}")
        if not isinstance(hidden, (int, np.integer)) or not 1 <= hidden <= 100_000:
            raise ConfigError(f"hidden must be an integer in 1..100000, not {hidden!r}")
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        self.vocab = vocab
        self._direction = direction
        self._core = _core.Model(len(vocab), int(hidden), vocab.class_begin, cell, int(direct),
                                 int(direct_order) if direct else 0)
        self._core.init_random(int(seed))
        self.seed = int(seed)
        self.history: list[EpochRecord] = []
        self.train_options: dict[str, Any] = {}

    # --- properties ------------------------------------------------------------------
    @property
    def hidden(self) -> int:
        return self._core.hidden

    @property
    def cell(self) -> str:
        return self._core.cell

    @property
    def activation(self) -> str:
        """The cell's name (rnnlm-0.4b calls the simple cells' nonlinearity the activation)."""
        return self._core.cell

    @property
    def direct(self) -> int:
        return self._core.direct_size

    @property
    def direct_order(self) -> int:
        return self._core.direct_order

    @property
    def n_classes(self) -> int:
        return self._core.n_classes

    @property
    def direction(self) -> str:
        """"forward", or "backward" for a model that reads sentences last word first."""
        return self._direction

    @property
    def backward(self) -> bool:
        return self._direction == "backward"

    def weights(self) -> dict[str, np.ndarray]:
        """Writable NumPy views of the weights (no copy): embed, recurrent, hidden_bias,
        class_w, class_b, word_w, word_b."""
        return self._core.arrays()

    def n_parameters(self) -> int:
        return sum(a.size for a in self.weights().values())

    def __repr__(self) -> str:
        return (f"RNNLM(vocab={len(self.vocab)}, hidden={self.hidden}, classes={self.n_classes}, "
                f"cell={self.cell!r}, direct={self.direct}, direct_order={self.direct_order}"
                + (", direction='backward')" if self.backward else ")"))

    # --- encoding --------------------------------------------------------------------
    def encode_file(self, path: PathLike, *, max_line_bytes: int = _core.DEFAULT_MAX_LINE_BYTES,
                    progress: bool = False) -> Encoded:
        """Encode a text file with this model's vocabulary (C++, streaming), in the model's
        reading order (see ``direction``)."""
        p = require_file(path, "text file")
        bar = make_bar(progress, p.stat().st_size if not str(p).endswith(".gz") else None,
                       f"reading {p.name}", unit="B")
        try:
            ids, offsets, oov = _core.encode_file(self.vocab._core, str(p), False, max_line_bytes,
                                                  counter_callback(bar))
        finally:
            if bar is not None:
                bar.close()
        return self._encoded(ids, offsets, oov)

    def encode_sentences(self, sentences: Sequence[str]) -> Encoded:
        """Encode sentences given as strings of whitespace-separated words, in the model's
        reading order."""
        if isinstance(sentences, str):
            raise ConfigError("pass a list of sentences, not a single string")
        sentences = list(sentences)
        for i, s in enumerate(sentences):
            if not isinstance(s, str):
                raise ConfigError(f"sentence {i} is a {type(s).__name__}, expected str")
        if not sentences:
            return self._encoded(np.zeros(0, np.int32), np.zeros(1, np.int64), 0)
        ids, offsets, oov = _core.encode_sentences(self.vocab._core, sentences, False)
        return self._encoded(ids, offsets, oov)

    def _text(self, text: Union[PathLike, Encoded], progress: bool) -> Encoded:
        """A file encoded for this model, or an Encoded checked to be in its reading order."""
        if not isinstance(text, Encoded):
            return self.encode_file(text, progress=progress)
        if (text.order is not None) != self.backward:
            raise ConfigError(f"this text was encoded for a {'backward' if text.order is not None else 'forward'} "
                              f"model; encode it with this {self.direction} model's encode_file/encode_sentences")
        return text

    def _encoded(self, ids: np.ndarray, offsets: np.ndarray, oov: int) -> Encoded:
        unk = self.vocab.unk_id
        mapped = np.where(ids < 0, unk, ids).astype(np.int32) if (oov and unk >= 0) else ids
        if not self.backward:
            return Encoded(ids, offsets, oov, mapped)
        order = _reversal(offsets)
        ids = np.ascontiguousarray(ids[order])
        return Encoded(ids, offsets, oov, ids if mapped is ids else np.ascontiguousarray(mapped[order]), order)

    # --- training --------------------------------------------------------------------
    def train(
        self,
        train: Union[PathLike, Encoded],
        valid: Union[PathLike, Encoded],
        *,
        lr: Optional[float] = None,
        beta: float = 1e-6,
        bptt: int = 4,
        bptt_block: int = 10,
        independent: bool = False,
        gradient_cutoff: float = 15.0,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        min_improvement: float = 1.003,
        max_epochs: int = 100,
        threads: int = 1,
        on_divergence: str = "rollback",
        max_rollbacks: int = 3,
        progress: bool = True,
        callback: Optional[Callable[[EpochRecord], None]] = None,
        checkpoint: Optional[PathLike] = None,
        _resume: Optional[dict[str, Any]] = None,
    ) -> list[EpochRecord]:
        """Train with online SGD and truncated BPTT under rnnlm-0.4b's schedule.

        After each epoch the validation log-likelihood decides: worse -> restore the previous
        weights; an improvement below ``min_improvement`` starts halving the learning rate
        every epoch; the next such epoch (or ``max_epochs``) stops training.

        Parameters
        ----------
        train, valid : path or Encoded
            Training and validation text (one sentence per line; ``.gz`` allowed).
        lr : float, optional
            Initial learning rate (rnnlm-0.4b's alpha); default by cell: 0.1 for sigmoid
            (rnnlm-0.4b), 0.01 for tanh and relu, 0.02 for GRU, 0.05 for LSTM.
        beta : float
            L2 regularisation (applied every 10th word, as rnnlm-0.4b).
        bptt, bptt_block : int
            Steps of backpropagation through time, and words between BPTT updates.
        independent : bool
            Reset the hidden state at each sentence (training and validation).
        gradient_cutoff : float
            Errors reaching the hidden layer are clipped to +-this.
        dropout : float
            Drop rate of the hidden units that feed the output layer while training (inverted
            dropout; the recurrent path is left intact, as in Zaremba et al. 2014). 0 (the
            default, rnnlm-0.4b) disables it; it pays off for large gated models.
        input_dropout : float
            Word-level input dropout while training: the rate at which a step's input word is
            replaced by no input (its embedding row neither read nor updated), as embedding
            dropout (Gal and Ghahramani 2016); the direct connections still see the word.
        min_improvement : float
            Relative validation improvement below which the learning rate is halved.
        max_epochs : int
            Hard limit on epochs.
        threads : int
            Hogwild training threads (0 = all cores); 1 is bit-reproducible.
        on_divergence : {"rollback", "raise"}
            On NaN/Inf: restore the last good weights and halve the learning rate (at most
            ``max_rollbacks`` times, then raise), or raise DivergenceError at once.
        progress : bool
            Show a tqdm bar (epoch, words/s, entropy).
        callback : callable, optional
            Called with each EpochRecord.
        checkpoint : path, optional
            Write a checkpoint here (atomically) before the first epoch and after every
            epoch: the weights, schedule state, rollback count, history, options and data
            fingerprints. Continue an interrupted run with :meth:`RNNLM.resume`; with one
            thread the result is bit-identical to an uninterrupted run. A file already at
            this path is replaced (the command line refuses unless --resume/--overwrite).

        Returns
        -------
        list of EpochRecord
            Also kept in ``self.history``.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C, after restoring the last good weights (``self.history`` is kept).
        DivergenceError, ConfigError, CorpusError, MissingFileError
        """
        if on_divergence not in ("rollback", "raise"):
            raise ConfigError("on_divergence must be 'rollback' or 'raise'")
        if lr is None:
            lr = DEFAULT_LR[self.cell]
        try:  # plain Python values from here on (NumPy scalars do not go into JSON headers)
            lr, beta, gradient_cutoff, min_improvement = float(lr), float(beta), float(gradient_cutoff), \
                float(min_improvement)
            dropout, input_dropout = float(dropout), float(input_dropout)
            bptt, bptt_block, max_epochs, threads, max_rollbacks = int(bptt), int(bptt_block), int(max_epochs), \
                int(threads), int(max_rollbacks)
            independent = bool(independent)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"invalid training option: {e}") from None
        if not (lr > 0 and math.isfinite(lr)):
            raise ConfigError(f"lr must be a positive number, not {lr!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), not {dropout!r}")
        if not 0.0 <= input_dropout < 1.0:
            raise ConfigError(f"input_dropout must be in [0, 1), not {input_dropout!r}")
        if min_improvement < 1:
            raise ConfigError("min_improvement must be >= 1")
        if max_epochs < 1:
            raise ConfigError("max_epochs must be >= 1")
        options = dict(lr=lr, beta=beta, bptt=bptt, bptt_block=bptt_block, independent=independent,
                       gradient_cutoff=gradient_cutoff, dropout=dropout, input_dropout=input_dropout,
                       min_improvement=min_improvement, max_epochs=max_epochs,
                       threads=threads, on_divergence=on_divergence, max_rollbacks=max_rollbacks)
        threads = resolve_threads(threads)
        tr, va = self._text(train, progress), self._text(valid, progress)
        # what the model file records: the options that shaped the weights, not how the run was executed
        self.train_options = {k: v for k, v in options.items()
                              if k not in ("threads", "on_divergence", "max_rollbacks")}
        saver = None
        if checkpoint is not None:
            from .checkpoint import Checkpointer, check_resumed_data, data_fingerprint

            data = {"train": data_fingerprint(train, tr), "valid": data_fingerprint(valid, va)}
            if _resume is not None:
                check_resumed_data(checkpoint, data, _resume["data"])
            saver = Checkpointer(checkpoint, options, data)
        if _resume is None:
            schedule = Schedule(lr=lr, min_improvement=min_improvement, max_epochs=max_epochs)
            rollbacks = 0
            self.history = []
        else:  # from a checkpoint: its history was loaded with the model
            schedule = Schedule(**_resume["schedule"])
            rollbacks = _resume["rollbacks"]
        good = self._snapshot()
        if _resume is not None and _resume["good"] is not None:
            for k, v in _resume["good"].items():
                np.copyto(good[k], v)
        if saver is not None and _resume is None:
            saver.save(self, schedule, rollbacks, good)
        while not schedule.done:
            bar = make_bar(progress, len(tr.mapped), f"epoch {schedule.epoch + 1} lr {schedule.lr:.4g}")
            start = time.perf_counter()
            try:
                stats = _core.train_epoch(
                    self._core, tr.mapped, tr.offsets, schedule.lr, beta, gradient_cutoff, bptt, bptt_block,
                    independent, threads, training_callback(bar),
                    dropout=dropout, input_dropout=input_dropout,
                    seed=_epoch_seed(self.seed, schedule.epoch, rollbacks),
                )
            finally:
                if bar is not None:
                    bar.close()
            seconds = time.perf_counter() - start
            if stats["interrupted"]:
                self._restore(good)
                raise KeyboardInterrupt("training interrupted; the model keeps its last good weights")
            if stats["diverged"]:
                self._restore(good)
                rollbacks += 1
                msg = (f"training diverged (NaN/Inf) at word {stats['diverged_at']} of epoch {schedule.epoch + 1} "
                       f"with lr {schedule.lr:g}")
                if on_divergence == "raise" or rollbacks > max_rollbacks:
                    raise DivergenceError(msg + ("" if on_divergence == "raise" else
                                                 f"; gave up after {max_rollbacks} rollbacks"))
                log.warning("%s: restored the last good weights, halving the learning rate", msg)
                self.history.append(EpochRecord(schedule.epoch + 1, schedule.lr, math.nan, math.nan, math.nan,
                                                math.nan, stats["processed"] / seconds, seconds, False, True))
                schedule.lr /= 2
                if saver is not None:
                    saver.save(self, schedule, rollbacks, good)
                continue
            try:
                valid_logprob = float(self._score_positions(va, independent, threads)[va.ids >= 0].sum())
            except KeyboardInterrupt:
                self._restore(good)
                raise
            n_valid = int((va.ids >= 0).sum())
            epoch_lr = schedule.lr
            kept = schedule.after_epoch(valid_logprob)
            if kept:
                self._snapshot(into=good)
            else:
                self._restore(good)
            train_entropy = -stats["logprob"] / max(stats["words"], 1) / math.log(2)
            valid_entropy = -valid_logprob / max(n_valid, 1) / math.log(2)
            record = EpochRecord(
                epoch=schedule.epoch, lr=epoch_lr,
                train_entropy=train_entropy, train_ppl=_power(2.0, train_entropy),
                valid_entropy=valid_entropy, valid_ppl=_power(2.0, valid_entropy),
                words_per_sec=stats["processed"] / seconds, seconds=seconds, kept=kept,
            )
            self.history.append(record)
            log.info("epoch %d lr %.5g train ppl %.2f valid ppl %.2f %.0f words/s%s", record.epoch, record.lr,
                     record.train_ppl, record.valid_ppl, record.words_per_sec, "" if kept else " (restored)")
            if saver is not None:
                saver.save(self, schedule, rollbacks, good)
            if callback is not None:
                callback(record)
        return self.history

    @classmethod
    def resume(cls, checkpoint: PathLike, train: Union[PathLike, Encoded], valid: Union[PathLike, Encoded], *,
               threads: Optional[int] = None, checkpoint_to: Optional[PathLike] = None, progress: bool = True,
               callback: Optional[Callable[[EpochRecord], None]] = None) -> "RNNLM":
        """Continue the training run that wrote ``checkpoint`` (see :meth:`train`).

        The model, options, schedule state and history come from the checkpoint; ``train``
        and ``valid`` must be the same data (checked by fingerprint). Checkpoints keep being
        written to ``checkpoint`` (or ``checkpoint_to``). ``threads`` overrides the stored
        thread count (bit-identical results need the run's one thread).

        Raises
        ------
        CheckpointError, ModelFormatError, MissingFileError, and whatever :meth:`train` raises
        """
        from .checkpoint import resume

        return resume(cls, checkpoint, train, valid, threads=threads, checkpoint=checkpoint_to, progress=progress,
                      callback=callback)

    def _snapshot(self, into: Optional[dict[str, np.ndarray]] = None) -> dict[str, np.ndarray]:
        """Copy of the weights; reuses the buffers of ``into`` so only two copies ever exist."""
        if into is None:
            return {k: v.copy() for k, v in self.weights().items()}
        for k, v in self.weights().items():
            np.copyto(into[k], v)
        return into

    def _restore(self, snapshot: dict[str, np.ndarray]) -> None:
        for k, v in self.weights().items():
            np.copyto(v, snapshot[k])

    # --- scoring ---------------------------------------------------------------------
    def _score_positions(self, enc: Encoded, independent: bool, threads: int, progress: bool = False) -> np.ndarray:
        """ln P of every position (0 at unknown words when the vocabulary has no <unk>)."""
        if len(enc.ids) == 0:
            return np.zeros(0)
        bar = make_bar(progress, len(enc.ids), "scoring")
        try:
            return _core.score_positions(self._core, enc.mapped, enc.offsets, independent,
                                         resolve_threads(threads), counter_callback(bar))
        finally:
            if bar is not None:
                bar.close()

    def _dynamic_positions(self, enc: Encoded, independent: bool, lr: float, progress: bool) -> np.ndarray:
        """ln P of every position under dynamic evaluation, on a copy of the weights."""
        if len(enc.ids) == 0:
            return np.zeros(0)
        opts = self.train_options
        adapted = self._core.copy()
        bar = make_bar(progress, len(enc.ids), f"dynamic evaluation lr {lr:g}")
        try:
            stats = _core.train_epoch(
                adapted, enc.mapped, enc.offsets, lr, float(opts.get("beta", 1e-6)),
                float(opts.get("gradient_cutoff", 15.0)), int(opts.get("bptt", 4)), int(opts.get("bptt_block", 10)),
                independent, 1, training_callback(bar), return_positions=True,
            )
        finally:
            if bar is not None:
                bar.close()
        if stats["interrupted"]:
            raise KeyboardInterrupt("dynamic evaluation interrupted")
        if stats["diverged"]:
            raise DivergenceError(f"dynamic evaluation diverged (NaN/Inf) at word {stats['diverged_at']} with "
                                  f"learning rate {lr:g}; use a smaller dynamic learning rate")
        return stats["positions"]

    def _oov_policy(self, oov: str) -> str:
        if oov not in OOV_POLICIES:
            raise ConfigError(f"oov must be one of {OOV_POLICIES}, not {oov!r}")
        if oov == "auto":
            return "unk" if self.vocab.unk_id >= 0 else "penalty"
        if oov == "unk" and self.vocab.unk_id < 0:
            raise VocabularyError("oov='unk' but the vocabulary has no <unk>; use oov='penalty'")
        return oov

    def _log10_positions(self, enc: Encoded, independent: bool, threads: int, oov: str,
                         oov_penalty: float, progress: bool = False) -> np.ndarray:
        lp = self._score_positions(enc, independent, threads, progress) / LN10
        if self._oov_policy(oov) == "penalty":
            lp[enc.ids < 0] = oov_penalty
        return enc.in_text_order(lp)

    def perplexity(self, path: Union[PathLike, Encoded], *, independent: bool = False, threads: int = 1,
                   oov_penalty: float = -5.0, dynamic: float = 0.0, per_word: bool = False,
                   progress: bool = False) -> PerplexityResult:
        """Perplexity of a text file, ``</s>`` included, as rnnlm-0.4b reports it.

        The hidden state is carried across sentences unless ``independent``; the result does
        not depend on ``threads``.

        ``dynamic`` > 0 is rnnlm-0.4b's ``-dynamic``: a copy of the model keeps learning from
        the text as it scores it (each word is scored, then trained on with that learning
        rate, the model's BPTT settings and L2), so later words benefit from earlier ones.
        The model itself is left unchanged; the pass is sequential (one thread).

        ``per_word`` also returns the log10 probability of every position in ``word_log10``.
        """
        enc = self._text(path, progress)
        try:
            rate = float(dynamic)
        except (TypeError, ValueError):
            rate = math.nan
        if not (rate >= 0 and math.isfinite(rate)):
            raise ConfigError(f"dynamic must be a learning rate (a number >= 0), not {dynamic!r}")
        dynamic = rate
        start = time.perf_counter()
        if dynamic > 0:
            ln = self._dynamic_positions(enc, independent, dynamic, progress)
        else:
            ln = self._score_positions(enc, independent, threads, progress)
        seconds = time.perf_counter() - start
        known = enc.ids >= 0
        n = int(known.sum())
        log10_known = float(ln[known].sum()) / LN10
        if self.vocab.unk_id >= 0:
            log10_all = float(ln.sum()) / LN10
        else:
            log10_all = log10_known + oov_penalty * enc.oov
        word_log10 = None
        if per_word:
            word_log10 = ln / LN10
            if self.vocab.unk_id < 0:
                word_log10[~known] = oov_penalty
            word_log10 = enc.in_text_order(word_log10)
        return PerplexityResult(
            ppl=_power(10.0, -log10_known / max(n, 1)),
            ppl_with_oov=_power(10.0, -log10_all / max(len(enc.ids), 1)),
            log10_prob=log10_known, entropy=-log10_known / max(n, 1) * math.log2(10),
            words=n, oov=enc.oov, sentences=enc.sentences, seconds=seconds, word_log10=word_log10,
        )

    def score(self, sentences: Sequence[str], *, independent: bool = True, oov: str = "auto",
              oov_penalty: float = -5.0, threads: int = 1, progress: bool = False) -> np.ndarray:
        """log10 P of each sentence, ``</s>`` included (KenLM-style).

        Parameters
        ----------
        sentences : sequence of str
            Whitespace-separated words, one sentence per string.
        independent : bool
            Reset the state at each sentence (default); False carries it as rnnlm-0.4b does.
        oov : {"auto", "unk", "penalty"}
            Unknown words score as ``<unk>`` ("unk"), or ``oov_penalty`` log10 ("penalty");
            "auto" picks "unk" when the vocabulary has ``<unk>``.
        threads : int
            Scoring threads (0 = all cores); the scores do not depend on it.

        Returns
        -------
        numpy.ndarray of float64, one log10 probability per sentence.
        """
        enc = self.encode_sentences(sentences)
        lp = self._log10_positions(enc, independent, threads, oov, oov_penalty, progress)
        if enc.sentences == 0:
            return np.zeros(0)
        return np.add.reduceat(lp, enc.offsets[:-1]) if len(lp) else np.zeros(enc.sentences)

    def word_logprobs(self, sentence: str, *, oov: str = "auto", oov_penalty: float = -5.0) -> np.ndarray:
        """log10 P of each word of one sentence and of its final ``</s>``."""
        enc = self.encode_sentences([sentence])
        return self._log10_positions(enc, True, 1, oov, oov_penalty)

    def score_words(self, sentences: Sequence[str], *, independent: bool = True, oov: str = "auto",
                    oov_penalty: float = -5.0, threads: int = 1) -> list[np.ndarray]:
        """Per-word log10 probabilities (``</s>`` last) for each sentence of a batch."""
        enc = self.encode_sentences(sentences)
        lp = self._log10_positions(enc, independent, threads, oov, oov_penalty)
        return [lp[a:b] for a, b in zip(enc.offsets[:-1], enc.offsets[1:])]

    def generate(self, n: int = 1, *, prefix: str = "", max_words: int = 100, temperature: float = 1.0,
                 seed: int = 1) -> list[str]:
        """Sample ``n`` sentences (as rnnlm-0.4b's ``-gen``), each continuing ``prefix``.

        Parameters
        ----------
        prefix : str
            Words the sentences start with (not repeated in the output).
        max_words : int
            Stop a sentence after this many words if no ``</s>`` was drawn.
        temperature : float
            Divides the logits: below 1 sharper, above 1 flatter.
        seed : int
            The same seed gives the same sentences.

        A backward model writes each sentence from its end: ``prefix`` is then the end of
        the sentences (not repeated), and they come back in the usual word order.
        """
        if n < 0 or max_words < 1 or not temperature > 0:
            raise ConfigError("need n >= 0, max_words >= 1 and temperature > 0")
        ids = [self.vocab.get(w, self.vocab.unk_id) for w in self._reading_order(prefix.split())]
        out = _core.generate(self._core, ids, int(n), int(max_words), float(temperature), int(seed))
        words = self.vocab.words
        return [" ".join(words[i] for i in self._reading_order(sent)) for sent in out]

    def _reading_order(self, words: Sequence) -> Sequence:
        return list(reversed(words)) if self.backward else words

    def next_word_distribution(self, context: Sequence[str] = ()) -> np.ndarray:
        """P(w | <s> context) over the whole vocabulary (float32, sums to 1); for a backward
        model, P(w | context </s>): the distribution of the word before ``context``."""
        ids = np.array([self.vocab.get(w, self.vocab.unk_id) for w in self._reading_order(list(context))],
                       dtype=np.int32)
        return _core.next_word_distribution(self._core, ids)

    # --- files -----------------------------------------------------------------------
    def save(self, path: PathLike) -> None:
        """Write the model (vocabulary, classes, options, weights) atomically to ``path``."""
        words_blob = "\n".join(self.vocab.words).encode("utf-8")
        arrays = {
            "vocab.words": np.frombuffer(words_blob, dtype=np.uint8),
            "vocab.counts": self.vocab.counts.astype(np.int64),
            "vocab.word_class": self.vocab.word_class.astype(np.int32),
        }
        arrays.update({f"weights.{k}": v for k, v in self.weights().items()})
        header = {
            "format": "rnnlm-fast",
            "config": {"vocab_size": len(self.vocab), "hidden": self.hidden, "classes": self.n_classes,
                       "cell": self.cell, "direct": self.direct, "direct_order": self.direct_order,
                       "seed": self.seed, "direction": self.direction},
            "train_options": self.train_options,
            "history": [vars(r) for r in self.history],
        }
        write_model(path, header, arrays, version=2 if self.backward else 1)

    @classmethod
    def load(cls, path: PathLike, vocab: Optional[Vocabulary] = None) -> "RNNLM":
        """Load a model written by :meth:`save`, validating sizes and checksums.

        Parameters
        ----------
        vocab : Vocabulary, optional
            If given, it must match the model's own vocabulary exactly.

        Raises
        ------
        MissingFileError, ModelFormatError, FormatVersionError, VocabularyMismatchError
        """
        header, arrays = read_model(path)
        try:
            cfg = header["config"]
            V, H, C = int(cfg["vocab_size"]), int(cfg["hidden"]), int(cfg["classes"])
            cell = str(cfg.get("cell", cfg.get("activation")))
            direct, direct_order = int(cfg.get("direct", 0)), int(cfg.get("direct_order", 0))
            direction = str(cfg.get("direction", "forward"))
            words = arrays["vocab.words"].tobytes().decode("utf-8").split("\n")
            counts, word_class = arrays["vocab.counts"], arrays["vocab.word_class"]
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
            raise ModelFormatError(f"{path}: incomplete or inconsistent model header ({e})") from None
        if cell not in CELLS:
            raise ModelFormatError(f"{path}: unknown cell {cell!r}")
        if direction not in DIRECTIONS:
            raise ModelFormatError(f"{path}: unknown direction {direction!r}")
        G = GATES[cell]
        expected = {"embed": (V, G * H), "recurrent": (G * H, H), "hidden_bias": (G * H,), "class_w": (C, H),
                    "class_b": (C,), "word_w": (V, H), "word_b": (V,)}
        if direct:
            expected["direct"] = (direct,)
        for name, shape in expected.items():
            a = arrays.get(f"weights.{name}")
            if a is None or a.shape != shape or a.dtype != np.float32:
                raise ModelFormatError(f"{path}: weights.{name} missing or not float32 {shape}")
        if len(words) != V or counts.shape != (V,) or word_class.shape != (V,):
            raise ModelFormatError(f"{path}: vocabulary of {len(words)} words does not match vocab_size {V}")
        try:
            stored = Vocabulary(words, counts, word_class)
        except VocabularyError as e:
            raise ModelFormatError(f"{path}: invalid vocabulary: {e}") from None
        if stored.n_classes != C:
            raise ModelFormatError(f"{path}: {stored.n_classes} classes in the vocabulary, header says {C}")
        if vocab is not None:
            stored.check_same(vocab, what=f"the vocabulary given for {path}")
        model = cls.__new__(cls)
        model.vocab = stored
        model._direction = direction
        try:
            model._core = _core.Model(V, H, stored.class_begin, cell, direct, direct_order)
        except ConfigError as e:
            raise ModelFormatError(f"{path}: inconsistent model configuration: {e}") from None
        model.seed = int(cfg.get("seed", 0))
        for name, view in model.weights().items():
            np.copyto(view, arrays[f"weights.{name}"])
        model.train_options = dict(header.get("train_options") or {})
        try:
            model.history = [EpochRecord(**r) for r in header.get("history") or [] if isinstance(r, dict)]
        except TypeError as e:  # a record with missing or unknown fields
            raise ModelFormatError(f"{path}: malformed training history ({e})") from None
        return model
