"""An n-gram LM (KenLM, in process) next to an RNNLM: its sentence scores as a rescoring
feature, and per-word linear interpolation with the RNNLM (rnnlm-0.4b's ``-lm-prob``, done
without files).

KenLM is an optional dependency, the ``kenlm`` extra (``pip install "rnnlm-fast[kenlm]"``);
nothing here imports it before an n-gram is loaded. It reads ARPA files and KenLM binaries.

How the two models meet (one rule for ``eval``, ``rescore`` and the functions below):

- The same words. The text is mapped to the model's case (``case``) and split by the engine's
  whitespace rule; for sentences given as strings a leading ``<s>`` is dropped, as ``RNNLM.score``
  drops it. KenLM reads the words joined by single spaces, so both models see one word sequence
  (a word holding another whitespace character, which KenLM would split, is refused).
- The same positions. Every word and the closing ``</s>`` are scored by both models: the RNNLM
  from its reset state, KenLM from its begin-sentence state (``<s>`` as context, never scored),
  so a sentence of n words has n + 1 scores on each side.
- The same unknown words. A word is OOV when the RNNLM's vocabulary lacks it (the convention of
  ``eval``'s PPL and ``rescore``'s OOV count). Where the RNNLM scores it as ``<unk>`` (``oov``
  "unk", or "auto" with ``<unk>`` in the vocabulary), KenLM is given ``<unk>`` in its place, so
  both models predict the same event, P(<unk> | history), and KenLM's later context holds
  ``<unk>`` too. Otherwise (no ``<unk>`` in the RNNLM) KenLM reads the word itself (its own
  ``<unk>`` when it does not know it either) and, in an interpolation, the RNNLM's share there
  is probability 0 (rnnlm-0.4b's rule for ``-lm-prob``). Train the n-gram on the RNNLM's
  training text for like-for-like ``<unk>`` probabilities.

KenLM's scores are log10, as the RNNLM's scoring calls; the n-best code turns them into
natural logs.
"""

from __future__ import annotations

import itertools
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import _core
from ._files import PathLike, require_file
from .encoding import case_mapping, encode_sentences, prepare_sentences
from .errors import ConfigError, CorpusError, ModelFormatError
from .options import DEFAULTS
from .units import LN10
from .vocab import UNK

if TYPE_CHECKING:
    from .model import RNNLM

__all__ = ["INSTALL_HINT", "AlignedText", "NgramLM", "aligned_text", "check_weight", "interpolate_log10",
           "interpolated_scores", "ngram_sentence_scores", "require_kenlm"]

INSTALL_HINT = 'pip install "rnnlm-fast[kenlm]"'


def require_kenlm():
    """The kenlm module; ConfigError saying how to install it when it is missing."""
    try:
        import kenlm
    except ImportError:
        raise ConfigError(f"--ngram needs the kenlm package, an optional extra: {INSTALL_HINT} "
                          "(it builds from source: a C++ compiler, cmake and zlib are needed)") from None
    return kenlm


class NgramLM:
    """A KenLM model (ARPA or KenLM binary) loaded in process; ``progress``: KenLM's loading bar
    (KenLM itself says on stderr that a binary would load faster than an ARPA file).

    Raises MissingFileError for a missing file, ModelFormatError for one KenLM cannot read,
    ConfigError when the kenlm package is not installed.
    """

    def __init__(self, path: PathLike, *, progress: bool = False):
        kenlm = require_kenlm()
        p = require_file(path, "n-gram LM file (--ngram)")
        config = kenlm.Config()
        config.show_progress = bool(progress)
        try:
            self._model = kenlm.Model(os.fspath(p), config)
        except (OSError, RuntimeError, ValueError) as e:
            detail = " ".join(str(e).split())[:300]
            raise ModelFormatError(f"{p}: KenLM cannot read this n-gram LM (an ARPA file or a KenLM binary "
                                   f"is expected): {detail}") from None
        self.path = str(p)

    @property
    def order(self) -> int:
        return int(self._model.order)

    def __contains__(self, word: str) -> bool:
        return word in self._model

    def __repr__(self) -> str:
        return f"NgramLM({self.path!r}, order={self.order})"

    def sentence_log10(self, texts: Sequence[str]) -> np.ndarray:
        """log10 P of each sentence, ``</s>`` included, from KenLM's begin-sentence state."""
        score = self._model.score
        return np.fromiter((score(t, True, True) for t in texts), dtype=np.float64, count=len(texts))

    def word_log10(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """log10 P of every position of every sentence (its words, then ``</s>``), flat, and
        whether KenLM scored it as its ``<unk>``. KenLM's generator is drained in C
        (``np.fromiter`` over a chain of its tuples), not by a loop in Python."""
        full = self._model.full_scores
        flat = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(
            full(t, True, True) for t in texts)), dtype=np.float64)
        table = flat.reshape(-1, 3)
        return table[:, 0].copy(), table[:, 2] != 0


@dataclass
class AlignedText:
    """Sentences as both models read them (see the module docstring).

    ``texts``: what KenLM scores, one string per sentence; ``unknown``: per position (words and
    ``</s>``, flat), whether the RNNLM's vocabulary lacks the word; ``offsets``: sentence i
    spans positions ``offsets[i]:offsets[i + 1]``; ``to_unk``: KenLM reads ``<unk>`` for those.
    """

    texts: list[str]
    unknown: np.ndarray
    offsets: np.ndarray
    to_unk: bool

    def per_sentence(self, per_position: np.ndarray) -> np.ndarray:
        """Sums of per-position values over each sentence."""
        if len(self.offsets) < 2:
            return np.zeros(0)
        return np.add.reduceat(per_position, self.offsets[:-1])


def scores_as_unk(model: RNNLM, oov: str) -> bool:
    """Whether the RNNLM scores unknown words as ``<unk>`` under the policy ``oov``."""
    return oov == "unk" or (oov == "auto" and model.vocab.unk_id >= 0)


def aligned_text(model: RNNLM, sentences: Sequence[str], *, case: str = DEFAULTS["case"],
                 oov: str = DEFAULTS["oov"], drop_bos: bool = True) -> AlignedText:
    """The sentences as both models read them (module docstring): case mapped, a leading
    ``<s>`` dropped (``drop_bos``; files read by ``eval`` keep it, as the engine does), the
    RNNLM's unknown words as ``<unk>`` for KenLM when the RNNLM scores them so.

    Raises CorpusError when KenLM would split a sentence into other words than the engine.
    """
    if drop_bos:
        prepared = prepare_sentences(model.vocab, sentences, case)
    else:
        fix = case_mapping(case)
        prepared = [fix(s) for s in sentences]
    enc = encode_sentences(model.vocab, prepared)  # text order: the words, then </s>
    unknown = enc.ids < 0
    to_unk = scores_as_unk(model, oov)
    with_oov = (np.add.reduceat(unknown, enc.offsets[:-1]) > 0) if to_unk and len(prepared) else ()
    texts = []
    for i, s in enumerate(prepared):
        words = _core.split_words(s)
        if to_unk and with_oov[i]:
            start = int(enc.offsets[i])
            words = [UNK if unknown[start + j] else w for j, w in enumerate(words)]
        text = " ".join(words)
        if len(text.split()) != len(words):
            raise CorpusError(f"sentence {i + 1}: a word holds a whitespace character that KenLM splits at "
                              f"and the RNNLM does not ({s[:80]!r})")
        texts.append(text)
    return AlignedText(texts, unknown, enc.offsets, to_unk)


def ngram_sentence_scores(model: RNNLM, ngram: NgramLM, sentences: Sequence[str], *,
                          case: str = DEFAULTS["case"], oov: str = DEFAULTS["oov"]) -> np.ndarray:
    """KenLM's log10 P of each sentence (``</s>`` included), the words as the RNNLM reads them."""
    return ngram.sentence_log10(aligned_text(model, sentences, case=case, oov=oov).texts)


def check_weight(weight: float, name: str = "ngram_interpolate") -> float:
    """The one check of an interpolation weight: ConfigError '<name> must be in [0, 1], not <w>'."""
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0.0 <= weight <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], not {weight!r}")
    return float(weight)


def interpolate_log10(rnn_log10: np.ndarray, other_log10: np.ndarray, weight: float) -> np.ndarray:
    """The one per-word linear interpolation of the RNNLM with another LM (an n-gram, or the
    probabilities of rnnlm-0.4b's ``-lm-prob`` file): per position
    ``log10(weight * P_other + (1 - weight) * P_rnn)``. ``weight`` is the OTHER LM's (the table's
    ``ngram_interpolate``; rnnlm-0.4b's ``-lambda`` and ``eval --lambda`` are the RNN's, 1 - weight).
    An RNN log10 of -inf (probability 0, an unknown word) leaves the other LM's share.
    ConfigError on a weight outside [0, 1] (:func:`check_weight`)."""
    weight = check_weight(weight)
    if weight == 0.0:
        return np.asarray(rnn_log10, dtype=np.float64).copy()
    if weight == 1.0:
        return np.asarray(other_log10, dtype=np.float64).copy()
    with np.errstate(divide="ignore"):  # log(0) = -inf is the intended value
        ln = np.logaddexp(np.log(weight) + np.asarray(other_log10) * LN10,
                          np.log1p(-weight) + np.asarray(rnn_log10) * LN10)
    return ln / LN10


@dataclass
class InterpolatedScores:
    """Per-position log10 scores of sentences under the RNNLM, the n-gram and their mixture,
    flat in text order; ``aligned`` says where each sentence's positions are and which words
    the RNNLM lacks; ``ngram_unk`` where KenLM scored its ``<unk>``."""

    rnn: np.ndarray
    ngram: np.ndarray
    mixed: np.ndarray
    ngram_unk: np.ndarray
    aligned: AlignedText


def interpolated_scores(model: RNNLM, ngram: NgramLM, sentences: Sequence[str], weight: float, *,
                        rnn_log10: np.ndarray | None = None, independent: bool = not DEFAULTS["carry_state"],
                        oov: str = DEFAULTS["oov"], oov_penalty: float = DEFAULTS["oov_penalty"],
                        threads: int = DEFAULTS["threads"], case: str = DEFAULTS["case"],
                        max_oov_rate: float = DEFAULTS["max_oov_rate"], drop_bos: bool = True,
                        ) -> InterpolatedScores:
    """Score sentences with both models and mix them word by word: P = weight * P_ngram +
    (1 - weight) * P_rnn at every word and ``</s>`` (module docstring for the rules).

    The RNNLM's per-word scores come from one batched call (``RNNLM.score_words``), or are
    given as ``rnn_log10`` (flat, text order, as ``perplexity(per_word=True)`` returns them).

    Raises ConfigError for a backward model (P(w | following words) mixed with P(w | preceding
    words) is no distribution) or a weight outside [0, 1]; CorpusError when the two models
    disagree on the number of positions.
    """
    if model.backward:
        raise ConfigError("n-gram interpolation mixes word by word with a left-to-right LM; this RNNLM "
                          "is a backward model")
    check_weight(weight)
    aligned = aligned_text(model, sentences, case=case, oov=oov, drop_bos=drop_bos)
    if rnn_log10 is None:
        per_sentence = model.score_words(sentences, independent=independent, oov=oov, oov_penalty=oov_penalty,
                                         threads=threads, case=case, max_oov_rate=max_oov_rate)
        rnn_log10 = np.concatenate(per_sentence) if per_sentence else np.zeros(0)
    rnn = np.array(rnn_log10, dtype=np.float64)
    if not aligned.to_unk:
        rnn[aligned.unknown] = -np.inf  # no <unk> in the RNNLM: the n-gram's share only (rnnlm-0.4b)
    ngram_log10, ngram_unk = ngram.word_log10(aligned.texts)
    if not len(rnn) == len(ngram_log10) == len(aligned.unknown):
        raise CorpusError(f"the RNNLM scored {len(rnn)} positions and KenLM {len(ngram_log10)} "
                          f"({len(aligned.unknown)} expected)")
    return InterpolatedScores(rnn, ngram_log10, interpolate_log10(rnn, ngram_log10, weight), ngram_unk,
                              aligned)
