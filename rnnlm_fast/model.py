"""RNNLM: the class-factored Elman recurrent language model of rnnlm-0.4b, in-process.

The model: weights, generation, save and load; the scoring calls (perplexity, score,
score_words) come from rnnlm_fast/model_scoring.py, KenLM's calls from
rnnlm_fast/kenlm_api.py, training from rnnlm_fast/training.py (``train``, ``train_epoch`` and
``resume`` hand over to its Trainer, or across MPI processes to rnnlm_fast/distributed/),
encoding from rnnlm_fast/encoding.py; the C++ engine does the work.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _core, options
from ._files import PathLike
from .encoding import Encoded, encode_file, encode_sentences
from .errors import ConfigError, ModelFormatError
from .kenlm_api import KenlmApi, State  # noqa: F401  (State: public)
from .model_content import file_content, read_content
from .model_file import read_model, write_model
from .model_scoring import ScoringCalls
from .options import DEFAULTS, OPTIONS
from .results import PerplexityResult  # noqa: F401  (public: rnnlm_fast.PerplexityResult)
from .training import EpochRecord, EpochStats, Trainer, train_epoch
from .training import resume as resume_training
from .vocab import Vocabulary

POSITIONAL = 3  # RNNLM(vocab, hidden, cell, seed): the first model options may be given by position


def _engine_option(name: str) -> property:
    """A read-only property: the model option ``name`` as the engine holds it."""
    return property(lambda self: getattr(self._core, name), doc=f"The {name} option: {OPTIONS[name].help}.")


class RNNLM(KenlmApi, ScoringCalls):
    """A recurrent neural network language model with a class-factored softmax.

    Next to the batch calls, KenLM's Python calls (rnnlm_fast/kenlm_api.py). Calls that take
    text take ``case``, and warn (OovWarning) or refuse (OovError) text the vocabulary does not fit.

    Parameters
    ----------
    vocab : Vocabulary
        Words and classes; fixes the output layer.
    hidden, cell, seed, direct, direct_order, direct_hash, direction
        The model options (rnnlm_fast/options.py; ``help(RNNLM.__init__)`` lists them), the
        first three also by position (``activation``, the old name of ``cell``, is
        deprecated). A backward model scores P(w_i | w_i+1 ... w_n); it takes and gives text
        in its usual order (the reversal is internal) and pairs well with a forward model
        for n-best rescoring.

    Examples
    --------
    >>> vocab = Vocabulary.from_corpus("train.txt", classes=100)        # doctest: +SKIP
    >>> model = RNNLM(vocab, hidden=200)                                # doctest: +SKIP
    >>> history = model.train("train.txt", "valid.txt")                 # doctest: +SKIP
    >>> model.perplexity("test.txt").ppl                                # doctest: +SKIP
    """

    @options.keyword_signature(options.MODEL, positional=POSITIONAL)
    def __init__(self, vocab: Vocabulary, *args: Any, **given: Any):
        if not isinstance(vocab, Vocabulary):
            raise ConfigError("vocab must be a rnnlm_fast.Vocabulary")
        given = options.bind_positional(options.MODEL[:POSITIONAL], args, given, "RNNLM")
        if not given.get("direct"):  # the order matters only with a table
            given.pop("direct_order", None)
        values = options.resolve(options.MODEL, given, "model option")
        self._build(vocab, values)
        self._core.init_random(values["seed"])
        self.history: list[EpochRecord] = []
        self.train_options: dict[str, Any] = {}

    def _build(self, vocab: Vocabulary, values: dict[str, Any]) -> None:
        """The vocabulary and an engine model of these (resolved) model options."""
        self.vocab = vocab
        self._direction = values["direction"]
        self._core = _core.Model(len(vocab), values["hidden"], vocab.class_begin, values["cell"],
                                 direct=values["direct"],
                                 direct_order=values["direct_order"] if values["direct"] else 0,
                                 direct_hash=values["direct_hash"], embedding=values["embedding"])
        self.seed = values["seed"]

    # --- properties: the model options the engine holds (docs from the options table) ----------
    hidden = _engine_option("hidden")
    cell = _engine_option("cell")
    direct = _engine_option("direct")
    direct_order = _engine_option("direct_order")
    direct_hash = _engine_option("direct_hash")
    embedding = _engine_option("embedding")
    activation = _engine_option("cell")  # the cell's old name (rnnlm-0.4b's, for the simple cells)

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
        """Encode sentences given as strings of whitespace-separated words, in the model's reading order."""
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
        are listed below; a Trainer (rnnlm_fast.training) runs the loop, a DistributedTrainer with ``comm``.

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
        values = options.resolve(options.TRAINING, training, "training option")
        run = dict(checkpoint=checkpoint, progress=progress, callback=callback)
        if comm is None:
            return Trainer(self, train, valid, values, **run).run()
        from .distributed import DistributedTrainer

        return DistributedTrainer(self, train, valid, values, comm, **run).run()

    @options.keyword_signature(options.EPOCH)
    def train_epoch(self, text: Union[PathLike, Encoded], *, seed: int = DEFAULTS["seed"],
                    threads: int = DEFAULTS["threads"], progress: bool = False,
                    **training: Any) -> EpochStats:
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
        run = dict(threads=threads, checkpoint=checkpoint_to, progress=progress, callback=callback)
        if comm is None:
            return resume_training(cls, checkpoint, train, valid, **run)
        from .distributed import resume as resume_distributed

        return resume_distributed(cls, checkpoint, train, valid, comm, **run)

    def generate(self, n: int = 1, *, prefix: str = "", max_words: int = DEFAULTS["max_words"],
                 temperature: float = DEFAULTS["temperature"], seed: int = DEFAULTS["seed"]) -> list[str]:
        """Sample ``n`` sentences (as rnnlm-0.4b's ``-gen``), each continuing ``prefix`` (words the
        sentences start with, not repeated in the output); ``max_words``, ``temperature`` and
        ``seed`` are the options table's (the same seed gives the same sentences).

        A backward model writes each sentence from its end: ``prefix`` is then the end of
        the sentences (not repeated), and they come back in the usual word order.
        """
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(f"n must be a number of sentences (an integer >= 0), not {n!r}")
        max_words, temperature = (OPTIONS["max_words"].check(max_words),
                                  OPTIONS["temperature"].check(temperature))
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
        """What :meth:`save` writes: (header, named arrays, format version); model_content.py."""
        header, arrays = file_content(self.vocab, {n: getattr(self, n) for n in options.MODEL},
                                      self.weights(), self.train_options, [vars(r) for r in self.history])
        return header, arrays, 3 if self.embedding else 2 if self.backward else 1

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
    def from_file_content(cls, path: PathLike, header: dict[str, Any],
                          arrays: dict[str, np.ndarray]) -> "RNNLM":
        """The model held by a model file's (header, arrays), as :func:`read_model` returns them;
        ``path`` names the file in errors."""
        content = read_content(path, header, arrays)
        model = cls.__new__(cls)
        try:
            model._build(content.vocab, content.values)
        except ConfigError as e:
            raise ModelFormatError(f"{path}: inconsistent model configuration: {e}") from None
        for name, view in model.weights().items():
            np.copyto(view, content.weights[name])
        model.train_options, model.history = content.train_options, content.history
        return model
