"""A drop-in for KenLM's Python module on an RNNLM: ``import rnnlm_fast.kenlm as kenlm``, then
``kenlm.Model(path)`` loads a model written by :meth:`RNNLM.save` and answers KenLM's calls with
KenLM's signatures, meanings and types:

- ``score(sentence, bos=True, eos=True)`` -> float, log10 P(sentence </s> | <s>);
- ``full_scores(sentence, bos=True, eos=True)`` -> a generator of (float, int, bool):
  (log10 P, ngram_length, oov) per word, then ``</s>``;
- ``perplexity(sentence)`` -> float, ``10 ** (-score(sentence) / (words + 1))`` (a sentence,
  never a file);
- ``State()``, ``BeginSentenceWrite(state)``, ``NullContextWrite(state)``,
  ``BaseScore(in_state, word, out_state)`` -> float, ``BaseFullScore`` -> FullScoreReturn;
- ``order`` (int), ``word in model`` (``<s>`` and ``</s>`` are in, ``<unk>`` is not), ``path``
  (absolute, bytes), ``Config``, ``LanguageModel``.

Sentences may be str or bytes (UTF-8); anything else is a TypeError, as in KenLM. Unknown
words score as the model's ``<unk>`` (else rnnlm-0.4b's penalty, -5) and never warn.

Only the numbers differ, and four things: ``order`` is ``2**31 - 1`` (an RNN's context is the
whole sentence so far, so ``ngram_length`` is never capped); a leading ``<s>`` in the text is
the sentence start (KenLM would score it as a word); ``BaseScore`` refuses a ``word`` holding
a space (ConfigError; KenLM looks it up as one unknown word); a backward model refuses the
state API and ``bos=False``. States are this module's ``State`` (``kenlm.State()`` in a
client that imported this module as ``kenlm``), not KenLM's. Everything here goes through
the model's public calls (:meth:`RNNLM.score`, :meth:`RNNLM.full_scores`, the state API), so
the model's own methods stay the fast path for batches: ``RNNLM.score(list)``,
``score_words``, ``perplexity(file)``.
"""

from __future__ import annotations

import os
import warnings
from typing import Iterator, NamedTuple, Optional, Union

from ._files import PathLike
from .errors import OovWarning
from .kenlm_api import State
from .model import RNNLM

ALL_TEXT = 1.0  # KenLM scores any text: no share of unknown words is refused


class FullScoreReturn(NamedTuple):
    """``BaseFullScore``'s value, KenLM's field names."""

    log_prob: float
    ngram_length: int
    oov: bool


class LoadMethod:
    """KenLM's load methods, accepted for compatibility (an RNNLM is always read into memory)."""

    LAZY, POPULATE_OR_LAZY, POPULATE_OR_READ, READ, PARALLEL_READ = range(5)


class ARPALoadComplain:
    ALL, EXPENSIVE, NONE = range(3)


class Config:
    """KenLM's ``Config``: accepted by :class:`Model`, without effect on an RNNLM."""

    def __init__(self) -> None:
        self.show_progress = True
        self.arpa_complain = ARPALoadComplain.ALL
        self.load_method = LoadMethod.LAZY


def _as_str(data: object) -> str:
    """KenLM's ``as_str``: bytes are UTF-8, str is kept, anything else is a TypeError."""
    if isinstance(data, bytes):
        return data.decode("utf-8")
    if isinstance(data, str):
        return data
    raise TypeError(f"Cannot convert {type(data)} to string")


class Model:
    """An RNNLM behind KenLM's ``kenlm.Model`` interface (see the module's docstring).

    Parameters
    ----------
    path : path or bytes
        A model file written by :meth:`RNNLM.save`.
    config : Config, optional
        Accepted for KenLM's signature; ignored.
    model : RNNLM, optional
        Wrap a model already in memory instead of loading ``path``.
    """

    def __init__(self, path: Union[PathLike, bytes], config: Optional[Config] = None, *,
                 model: Optional[RNNLM] = None) -> None:
        name = os.fsdecode(path)
        self.path = os.path.abspath(name).encode("utf-8")
        self.model = model if model is not None else RNNLM.load(name)
        self._options = dict(max_oov_rate=ALL_TEXT)

    @property
    def order(self) -> int:
        return self.model.order

    def __contains__(self, word: object) -> bool:
        word = _as_str(word)
        return word != "<unk>" and word in self.model

    def __repr__(self) -> str:
        return f"<Model from {self.path!r}>"

    def __reduce__(self) -> tuple:
        return (Model, (self.path,))

    # --- whole sentences ---------------------------------------------------------------
    def score(self, sentence: Union[str, bytes], bos: bool = True, eos: bool = True) -> float:
        """log10 P(sentence), ``</s>`` included with ``eos``, from ``<s>`` with ``bos`` (else the
        null context)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OovWarning)
            return self.model.score(_as_str(sentence), bos, eos, **self._options)

    def perplexity(self, sentence: Union[str, bytes]) -> float:
        """The perplexity of one sentence: ``10 ** (-score(sentence) / (words + 1))``."""
        words = len(_as_str(sentence).split()) + 1
        return 10.0 ** (-self.score(sentence) / words)

    def full_scores(self, sentence: Union[str, bytes], bos: bool = True,
                    eos: bool = True) -> Iterator[tuple[float, int, bool]]:
        """(log10 P, ngram_length, oov) of each word, then of ``</s>`` with ``eos``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OovWarning)
            scores = list(self.model.full_scores(_as_str(sentence), bos, eos, **self._options))
        yield from scores

    # --- the state API ----------------------------------------------------------------
    def BeginSentenceWrite(self, state: State) -> None:  # KenLM's names, not PEP 8's
        self.model.begin_sentence_write(state)

    def NullContextWrite(self, state: State) -> None:
        self.model.null_context_write(state)

    def BaseScore(self, in_state: State, word: Union[str, bytes], out_state: State) -> float:
        """log10 P(word | in_state); the state after ``word`` is written to ``out_state``."""
        return self.model.base_score(in_state, _as_str(word), out_state)

    def BaseFullScore(self, in_state: State, word: Union[str, bytes], out_state: State) -> FullScoreReturn:
        """As :meth:`BaseScore`, with the context length (``<s>`` counted) and whether ``word`` is unknown."""
        word = _as_str(word)
        length = in_state.context_length + 1
        log_prob = self.BaseScore(in_state, word, out_state)
        return FullScoreReturn(log_prob, length, word not in self.model.vocab)


LanguageModel = Model

__all__ = ["Model", "LanguageModel", "State", "Config", "FullScoreReturn", "LoadMethod", "ARPALoadComplain"]
