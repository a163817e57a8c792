"""RNNLM: the class-factored Elman recurrent language model of rnnlm-0.4b, in-process.

The model: weights, perplexity, scoring, generation, save and load; KenLM's calls come from
rnnlm_fast/kenlm_api.py, training from rnnlm_fast/training.py (``train``, ``train_epoch`` and
``resume`` hand over to it), encoding from rnnlm_fast/encoding.py; the C++ engine does the work.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _core, options
from ._files import PathLike
from ._progress import counter_callback, make_bar
from .encoding import (Encoded, case_mapping, check_oov_rate, encode_checked, encode_file, encode_sentences,
                       oov_policy, read_lines, sample_words)
from .errors import ConfigError, MissingFileError, ModelFormatError, VocabularyError
from .kenlm_api import KenlmApi, State, check_single_sentence_options  # noqa: F401  (State: public)
from .model_file import read_model, write_model
from .options import DEFAULTS, OPTIONS
from .results import PerplexityResult
from .runs import resume, train as run_training
from .training import (EpochRecord, EpochStats, as_encoded, dynamic_positions, power, resolve_threads,
                       train_epoch)
from .units import LN10
from .vocab import Vocabulary

class RNNLM(KenlmApi):
    """A recurrent neural network language model with a class-factored softmax.

    Next to the batch calls, KenLM's Python calls (rnnlm_fast/kenlm_api.py). Calls that take
    text take ``case``, and warn (OovWarning) or refuse (OovError) text the vocabulary does not fit.

    Parameters
    ----------
    vocab : Vocabulary
        Words and classes; fixes the output layer.
    hidden, cell, seed, direct, direct_order, direct_hash, direction
        The model options (rnnlm_fast/options.py, listed below). ``cell`` is the recurrent
        cell: an Elman layer with that nonlinearity (sigmoid is rnnlm-0.4b's), or a GRU /
        LSTM cell; ``activation`` is accepted as another name for it. ``direct`` is the size
        of the hashed max-ent "direct connections" table, in weights (rnnlm-0.4b's
        ``-direct`` is in millions); ``direct_hash`` how n-gram features are hashed into
        it ("rnnlm04b": rnnlm-0.4b's, as imported models have). A backward model reads every sentence from its last
        word to its first (``</s>`` still ends it): it scores P(w_i | w_i+1 ... w_n).
        Training, scoring and per-word results take and give text in its usual order; the
        reversal is internal. Backward and forward models of the same text make a strong
        pair for n-best rescoring.

    Examples
    --------
    >>> vocab = Vocabulary.from_corpus("train.txt", classes=100)        # doctest: +SKIP
    >>> model = RNNLM(vocab, hidden=200)                                # doctest: +SKIP
    >>> history = model.train("train.txt", "valid.txt")                 # doctest: +SKIP
    >>> model.perplexity("test.txt").ppl                                # doctest: +SKIP
    """

    def __init__(self, vocab: Vocabulary, hidden: int = DEFAULTS["hidden"], cell: str = DEFAULTS["cell"],
                 seed: int = DEFAULTS["seed"], *, direct: int = DEFAULTS["direct"],
                 direct_order: int = DEFAULTS["direct_order"], activation: Optional[str] = None,
                 direction: str = DEFAULTS["direction"], direct_hash: str = DEFAULTS["direct_hash"]):
        if not isinstance(vocab, Vocabulary):
            raise ConfigError("vocab must be a rnnlm_fast.Vocabulary")
        given = dict(hidden=hidden, cell=cell if activation is None else activation, seed=seed, direct=direct,
                     direction=direction, direct_hash=direct_hash)
        if direct:  # the order matters only with a table
            given["direct_order"] = direct_order
        values = options.resolve(options.MODEL, given, "model option")
        self.vocab = vocab
        self._direction = values["direction"]
        self._core = _core.Model(len(vocab), values["hidden"], vocab.class_begin, values["cell"],
                                 direct=values["direct"], direct_order=values["direct_order"] if values["direct"] else 0,
                                 direct_hash=values["direct_hash"])
        self._core.init_random(values["seed"])
        self.seed = values["seed"]
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
        return self._core.direct

    @property
    def direct_order(self) -> int:
        return self._core.direct_order

    @property
    def direct_hash(self) -> str:
        """How n-gram features are hashed: "splitmix" (rnnlm-fast's) or "rnnlm04b" (rnnlm-0.4b's)."""
        return self._core.direct_hash

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
    def encode_file(self, path: PathLike, *, max_line_bytes: int = DEFAULTS["max_line_bytes"],
                    progress: bool = False) -> Encoded:
        """Encode a text file with this model's vocabulary (C++, streaming), in the model's
        reading order (see ``direction``)."""
        return encode_file(self.vocab, path, backward=self.backward, max_line_bytes=max_line_bytes,
                           progress=progress)

    def encode_sentences(self, sentences: Sequence[str]) -> Encoded:
        """Encode sentences given as strings of whitespace-separated words, in the model's
        reading order."""
        return encode_sentences(self.vocab, sentences, backward=self.backward)

    # --- training (rnnlm_fast/training.py) ---------------------------------------------
    @options.keyword_signature(options.TRAINING)
    def train(self, train: Union[PathLike, Encoded], valid: Union[PathLike, Encoded], *,
              progress: bool = True, callback: Optional[Callable[[EpochRecord], None]] = None,
              checkpoint: Optional[PathLike] = None, comm: Any = None, **training: Any) -> list[EpochRecord]:
        """Train with online SGD and truncated BPTT under rnnlm-0.4b's schedule.

        After each epoch the validation log-likelihood decides: worse -> restore the previous
        weights; an improvement below ``min_improvement`` starts halving the learning rate
        every epoch; the next such epoch (or ``max_epochs``) stops training. The options
        are listed below; a Trainer (rnnlm_fast.training) runs the loop (rnnlm_fast/runs.py picks it).

        Parameters
        ----------
        train, valid : path or Encoded
            Training and validation text (one sentence per line; ``.gz`` allowed).
        progress, callback : bool, callable
            Show a tqdm bar (epoch, words/s, entropy); call ``callback`` with each EpochRecord.
        checkpoint : path, optional
            Write a checkpoint here (atomically) before the first epoch and after every epoch:
            the weights, schedule state, rollbacks, history, options and data fingerprints.
            Continue an interrupted run with :meth:`RNNLM.resume` (with one thread, bit-identical
            to an uninterrupted run). A file at this path is replaced (the CLI refuses).
        comm : mpi4py communicator, optional
            Data-parallel training across its processes, each calling ``train`` (README).

        Returns
        -------
        list of EpochRecord, also kept in ``self.history``.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C, after restoring the last good weights (``self.history`` is kept).
        DivergenceError, ConfigError, CorpusError, MissingFileError
        """
        return run_training(self, train, valid, checkpoint=checkpoint, progress=progress, callback=callback, comm=comm,
                            **training)

    @options.keyword_signature(options.EPOCH)
    def train_epoch(self, text: Union[PathLike, Encoded], *, seed: int = 1, threads: int = DEFAULTS["threads"],
                    progress: bool = False, **training: Any) -> EpochStats:
        """One epoch of online SGD over ``text`` with these options, no validation or schedule
        (see :func:`rnnlm_fast.training.train_epoch`); returns its EpochStats."""
        return train_epoch(self, text, seed=seed, threads=threads, progress=progress, **training)

    @classmethod
    def resume(cls, checkpoint: PathLike, train: Union[PathLike, Encoded], valid: Union[PathLike, Encoded], *,
               threads: Optional[int] = None, checkpoint_to: Optional[PathLike] = None, progress: bool = True,
               callback: Optional[Callable[[EpochRecord], None]] = None, comm: Any = None) -> "RNNLM":
        """Continue the training run that wrote ``checkpoint`` (see :meth:`train`).

        The model, options, schedule state and history come from the checkpoint; ``train``
        and ``valid`` must be the same data (checked by fingerprint). Checkpoints keep being
        written to ``checkpoint`` (or ``checkpoint_to``). ``threads`` overrides the stored
        thread count (bit-identical results need the run's one thread). With ``comm`` (see
        :meth:`train`) rank 0 reads the checkpoint, for any number of processes.

        Raises
        ------
        CheckpointError, ModelFormatError, MissingFileError, and whatever :meth:`train` raises
        """
        return resume(cls, checkpoint, train, valid, threads=threads, checkpoint=checkpoint_to, progress=progress,
                      callback=callback, comm=comm)

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

    def _log10_positions(self, enc: Encoded, independent: bool, threads: int, oov: str,
                         oov_penalty: float, progress: bool = False) -> np.ndarray:
        lp = self._score_positions(enc, independent, threads, progress) / LN10
        if oov_policy(self.vocab, oov) == "penalty":
            lp[enc.ids < 0] = oov_penalty
        return enc.in_text_order(lp)

    # text meets the model: case, <s>, the share of unknown words
    def _encode_text(self, path: Union[PathLike, Encoded], case: str,
                     progress: bool) -> tuple[Encoded, Optional[Callable]]:
        """A file (or an Encoded) for this model, mapped to ``case``; and a function giving a
        sample of its words (for the OOV message's case hint)."""
        if isinstance(path, Encoded):
            if case != "keep":
                raise ConfigError("case applies to text; this text is already encoded (encode it with the "
                                  "words mapped to the model's case)")
            return as_encoded(self, path, progress), None
        if isinstance(path, str) and not Path(path).exists():
            raise MissingFileError(f"text file '{path}' does not exist (a str is a file path here; to score "
                                   "the text itself pass perplexity(text=...), score(sentence) or "
                                   "score([...]), or use rnnlm_fast.kenlm.Model)")
        if case == "keep":
            return as_encoded(self, path, progress), lambda: sample_words(read_lines(path)[:1000])
        lines = [case_mapping(case)(line) for line in read_lines(path)]
        return self.encode_sentences(lines), lambda: sample_words(lines[:1000])

    def perplexity(self, path: Union[PathLike, Encoded, None] = None, *, text: Optional[str] = None,
                   independent: bool = False, threads: int = DEFAULTS["threads"],
                   oov_penalty: float = DEFAULTS["oov_penalty"], dynamic: float = DEFAULTS["dynamic"], per_word: bool = False,
                   progress: bool = False, case: str = DEFAULTS["case"],
                   max_oov_rate: float = DEFAULTS["max_oov_rate"]) -> Union[PerplexityResult, float]:
        """Perplexity of a text file, ``</s>`` included, as rnnlm-0.4b reports it; or, with
        ``text=sentence``, of one sentence as KenLM's ``perplexity(sentence)`` gives it.

        The rule: ``path`` (a str or PathLike) always names a file, never the text itself (a
        str naming no file is a MissingFileError that says so), or is an Encoded text;
        ``text`` is one sentence as a str, and then the result is a float,
        ``10 ** (-score(text) / (words + 1))`` (``</s>`` counted; KenLM's formula).

        The hidden state is carried across sentences unless ``independent``; the result does
        not depend on ``threads``.

        ``dynamic`` > 0 is rnnlm-0.4b's ``-dynamic``: a copy of the model keeps learning from
        the text as it scores it (each word is scored, then trained on with that learning
        rate, the model's BPTT settings and L2), so later words benefit from earlier ones.
        The model itself is left unchanged; the pass is sequential (one thread).

        ``per_word`` also returns the log10 probability of every position in ``word_log10``.
        ``case`` and ``max_oov_rate`` as in :meth:`score`.
        """
        if text is not None or path is None:  # one sentence, KenLM's formula over word_logprobs
            if path is not None or text is None:
                raise ConfigError("perplexity needs a text file (path) or one sentence (text=...), not both")
            lp = self.word_logprobs(text, oov_penalty=oov_penalty, case=case, max_oov_rate=max_oov_rate)
            return float(10.0 ** (-float(lp.sum()) / len(lp)))
        enc, words = self._encode_text(path, case, progress)
        check_oov_rate(self.vocab, enc, max_oov_rate, case=case, words=words,
                       what=f"'{path}'" if not isinstance(path, Encoded) else "the text")
        dynamic = OPTIONS["dynamic"].check(dynamic)
        start = time.perf_counter()
        if dynamic > 0:
            ln = dynamic_positions(self, enc, independent, dynamic, progress)
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
            ppl=power(10.0, -log10_known / max(n, 1)),
            ppl_with_oov=power(10.0, -log10_all / max(len(enc.ids), 1)),
            log10_prob=log10_known, entropy=-log10_known / max(n, 1) * math.log2(10),
            words=n, oov=enc.oov, sentences=enc.sentences, seconds=seconds, word_log10=word_log10,
            log10_prob_with_oov=log10_all,
        )

    def score(self, sentences: Union[str, Sequence[str]], bos: bool = True, eos: bool = True, *,
              independent: bool = True, oov: str = DEFAULTS["oov"], oov_penalty: float = DEFAULTS["oov_penalty"],
              threads: int = DEFAULTS["threads"], progress: bool = False, case: str = DEFAULTS["case"],
              max_oov_rate: float = DEFAULTS["max_oov_rate"]) -> Union[np.ndarray, float]:
        """log10 P of each sentence, ``</s>`` included; or, given one sentence as a str, its
        log10 P as a float (KenLM's ``score(sentence, bos=True, eos=True)``).

        Parameters
        ----------
        sentences : sequence of str, or str
            Whitespace-separated words, one sentence per string (a str: one sentence); a
            leading ``<s>`` is the sentence start.
        bos, eos : bool
            For a str (KenLM's): start at ``<s>`` (else the null context) and score ``</s>``.
        independent : bool
            Reset the state at each sentence (default); False carries it as rnnlm-0.4b does.
        oov : {"auto", "unk", "penalty"}
            Unknown words score as ``<unk>`` ("unk"), or ``oov_penalty`` log10 ("penalty");
            "auto" picks "unk" when the vocabulary has ``<unk>``.
        threads : int
            Scoring threads (0 = all cores); the scores do not depend on it.
        case : {"keep", "lower", "upper"}
            Map the words to the model's case first.
        max_oov_rate : float
            Refuse (OovError) text with a larger share of unknown words; above 20% (50% in a
            short text) an OovWarning, naming a case mismatch when there is one.

        Returns
        -------
        numpy.ndarray of float64, one log10 probability per sentence; a float for a str.
        """
        if isinstance(sentences, str):  # one sentence: as a batch with bos and eos, else summed full_scores
            one = dict(oov=oov, oov_penalty=oov_penalty, case=case, max_oov_rate=max_oov_rate)
            if bos and eos:
                return float(self.score([sentences], **one)[0])
            return float(np.sum([lp for lp, _, _ in self.full_scores(sentences, bos, eos, **one)]))
        check_single_sentence_options(bos, eos)
        enc = encode_checked(self.vocab, sentences, case, max_oov_rate, backward=self.backward)
        lp = self._log10_positions(enc, independent, threads, oov, oov_penalty, progress)
        if enc.sentences == 0:
            return np.zeros(0)
        return np.add.reduceat(lp, enc.offsets[:-1]) if len(lp) else np.zeros(enc.sentences)

    def word_logprobs(self, sentence: str, *, oov: str = DEFAULTS["oov"], oov_penalty: float = DEFAULTS["oov_penalty"],
                      case: str = DEFAULTS["case"], max_oov_rate: float = DEFAULTS["max_oov_rate"]) -> np.ndarray:
        """log10 P of each word of one sentence and of its final ``</s>`` (``case`` and
        ``max_oov_rate`` as in :meth:`score`)."""
        enc = encode_checked(self.vocab, [sentence], case, max_oov_rate, backward=self.backward)
        return self._log10_positions(enc, True, 1, oov, oov_penalty)

    def score_words(self, sentences: Sequence[str], *, independent: bool = True, oov: str = DEFAULTS["oov"],
                    oov_penalty: float = DEFAULTS["oov_penalty"], threads: int = DEFAULTS["threads"],
                    case: str = DEFAULTS["case"], max_oov_rate: float = DEFAULTS["max_oov_rate"]) -> list[np.ndarray]:
        """Per-word log10 probabilities (``</s>`` last) for each sentence of a batch (``case``
        and ``max_oov_rate`` as in :meth:`score`)."""
        enc = encode_checked(self.vocab, sentences, case, max_oov_rate, backward=self.backward)
        lp = self._log10_positions(enc, independent, threads, oov, oov_penalty)
        return [lp[a:b] for a, b in zip(enc.offsets[:-1], enc.offsets[1:])]

    def generate(self, n: int = 1, *, prefix: str = "", max_words: int = DEFAULTS["max_words"],
                 temperature: float = DEFAULTS["temperature"], seed: int = DEFAULTS["seed"]) -> list[str]:
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
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(f"n must be a number of sentences (an integer >= 0), not {n!r}")
        max_words, temperature = OPTIONS["max_words"].check(max_words), OPTIONS["temperature"].check(temperature)
        ids = [self.vocab.get(w, self.vocab.unk_id) for w in self._reading_order(_core.split_words(prefix))]
        out = _core.generate(self._core, ids, int(n), int(max_words), float(temperature), int(seed))
        words = self.vocab.words
        return [" ".join(words[i] for i in self._reading_order(sent)) for sent in out]

    def _reading_order(self, words: Sequence) -> Sequence:
        return list(reversed(words)) if self.backward else words

    # --- files (the layout: rnnlm_fast/model_file.py) ---------------------------------------
    def save(self, path: PathLike) -> None:
        """Write the model (vocabulary, classes, options, weights) atomically to ``path``."""
        header, arrays, version = self.file_content()
        write_model(path, header, arrays, version=version)

    def file_content(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        """What :meth:`save` writes: (header, named arrays, format version)."""
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
                       "seed": self.seed, "direction": self.direction,
                       **({} if self.direct_hash == DEFAULTS["direct_hash"] else {"direct_hash": self.direct_hash})},
            "train_options": options.to_file(self.train_options),
            "history": [vars(r) for r in self.history],
        }
        return header, arrays, 2 if self.backward else 1

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
        model = cls.from_file_content(path, header, arrays)
        if vocab is not None:
            model.vocab.check_same(vocab, what=f"the vocabulary given for {path}")
        return model

    @classmethod
    def from_file_content(cls, path: PathLike, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> "RNNLM":
        """The model held by a model file's (header, arrays), as :func:`read_model` returns them;
        ``path`` names the file in errors."""
        try:
            cfg = header["config"]
            V, H, C = int(cfg["vocab_size"]), int(cfg["hidden"]), int(cfg["classes"])
            cell = str(cfg.get("cell", cfg.get("activation")))
            direct, direct_order = int(cfg.get("direct", 0)), int(cfg.get("direct_order", 0))
            direction = str(cfg.get("direction", "forward"))
            direct_hash = str(cfg.get("direct_hash", DEFAULTS["direct_hash"]))  # older files lack it
            words = arrays["vocab.words"].tobytes().decode("utf-8").split("\n")
            counts, word_class = arrays["vocab.counts"], arrays["vocab.word_class"]
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
            raise ModelFormatError(f"{path}: incomplete or inconsistent model header ({e})") from None
        if cell not in OPTIONS["cell"].choices:
            raise ModelFormatError(f"{path}: unknown cell {cell!r}")
        for name, value in (("direction", direction), ("direct_hash", direct_hash)):
            if value not in OPTIONS[name].choices:
                raise ModelFormatError(f"{path}: unknown {name} {value!r}")
        try:
            expected = _core.weight_shapes(V, H, C, cell, direct)
        except (ConfigError, OverflowError, TypeError) as e:
            raise ModelFormatError(f"{path}: inconsistent model configuration: {e}") from None
        for name, shape in expected.items():
            shape = tuple(shape)
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
        model = cls.__new__(cls)
        model.vocab = stored
        model._direction = direction
        try:
            model._core = _core.Model(V, H, stored.class_begin, cell, direct=direct, direct_order=direct_order,
                                      direct_hash=direct_hash)
        except ConfigError as e:
            raise ModelFormatError(f"{path}: inconsistent model configuration: {e}") from None
        model.seed = int(cfg.get("seed", 0))
        for name, view in model.weights().items():
            np.copyto(view, arrays[f"weights.{name}"])
        model.train_options = options.from_file(dict(header.get("train_options") or {}))
        try:
            model.history = [EpochRecord(**r) for r in header.get("history") or [] if isinstance(r, dict)]
        except TypeError as e:  # a record with missing or unknown fields
            raise ModelFormatError(f"{path}: malformed training history ({e})") from None
        return model
