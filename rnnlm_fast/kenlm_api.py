"""RNNLM's KenLM-style calls (mixed into it): ``full_scores``, ``in``, ``order``, the decoder's
``State`` with ``begin_sentence_write`` / ``null_context_write`` / ``base_score`` (KenLM's
names too), and ``next_word_distribution``. Every value is log10, as KenLM's. The state API
steps the C++ engine one word per call (``_core.score_step``): the slow path, for decoders;
whole sentences and batches go through ``score`` / ``score_words`` in one call.

Code written for KenLM's module runs unchanged on ``rnnlm_fast.kenlm.Model`` (rnnlm_fast/kenlm.py),
the drop-in built over these calls; on an RNNLM itself ``perplexity(path)`` names a file and
the batch calls take lists. The two halves of RNNLM call each other's public names only: these
methods use ``word_logprobs``, ``encode_sentences``, ``vocab``, ``backward`` and the engine
handle the model holds; rnnlm_fast/model.py uses ``full_scores``.

What differs, by the nature of an RNN: the context is the whole sentence so far, so
``ngram_length`` is the number of words the prediction rests on (``<s>`` and the word
itself included, as KenLM counts, never capped) and ``order`` is unbounded (``UNBOUNDED_ORDER``).
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from . import _core
from .encoding import (BOS, Encoded, case_mapping, check_oov_rate, encode_checked, oov_policy,
                       prepare_sentences)
from .errors import ConfigError
from .options import DEFAULTS
from .units import LN10

RNNLM = Any  # the class this is mixed into (rnnlm_fast.model imports this module)

UNBOUNDED_ORDER = 2**31 - 1  # an RNN's ``order``: its context has no fixed length
EOS = "</s>"


class State:
    """A decoder's position in a sentence (KenLM's ``kenlm.State``): the recurrent state
    after the words read so far. Made empty; ``begin_sentence_write`` or
    ``null_context_write`` fills it; ``base_score(in_state, word, out_state)`` writes the
    state after ``word`` into ``out_state`` (``in_state`` is left as it was).

    Two states are equal when they hold the same recurrent state, the same pending input
    word and the same length; they hash accordingly (so decoders can merge hypotheses), and
    order consistently with that (KenLM's states sort too).
    """

    __slots__ = ("_core", "_model", "_bos")

    def __init__(self) -> None:
        self._core: Optional[_core.DecoderState] = None
        self._model: Optional[RNNLM] = None
        self._bos = False

    @property
    def length(self) -> int:
        """Words scored since the sentence start (or the null context)."""
        return 0 if self._core is None else self._core.length

    @property
    def context_length(self) -> int:
        """Words the next prediction rests on, counted as KenLM counts an n-gram's context:
        ``<s>`` (from the sentence start) and the words scored since."""
        return self.length + (1 if self._core is not None and self._bos else 0)

    def __copy__(self) -> "State":
        out = State()
        if self._core is not None:
            out._core, out._model, out._bos = self._core.copy(), self._model, self._bos
        return out

    def __deepcopy__(self, memo: dict) -> "State":
        return self.__copy__()  # the recurrent state copied, the model shared

    def _key(self) -> tuple:
        if self._core is None:
            return ()
        core = self._core
        return (core.pending, core.length, core.hidden.tobytes(), core.cell_state.tobytes())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return self._model is other._model and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: "State") -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: "State") -> bool:
        return self == other or self < other

    def __gt__(self, other: "State") -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return other < self

    def __ge__(self, other: "State") -> bool:
        return self == other or self > other

    def __repr__(self) -> str:
        return "State(empty)" if self._core is None else f"State(length={self.length})"


class KenlmApi:
    """The KenLM-named calls of RNNLM (mixed into it; see the module's docstring)."""

    vocab: object
    _core: object
    backward: bool

    # --- queries ---------------------------------------------------------------------
    @property
    def order(self) -> int:
        """KenLM's n-gram order. An RNN conditions on the whole sentence so far: no fixed
        order, so this is ``UNBOUNDED_ORDER`` (2**31 - 1); ``ngram_length`` in
        :meth:`full_scores` gives the actual context length of each word."""
        return UNBOUNDED_ORDER

    def __contains__(self, word: object) -> bool:
        """``word in model``: whether the vocabulary holds ``word`` (``<s>``, the sentence
        start, counts as known, as in KenLM). Anything but a str is not a word: False."""
        if not isinstance(word, str):
            return False
        return word == BOS or word in self.vocab

    # --- one sentence, KenLM-style ------------------------------------------------------
    def full_scores(self: "RNNLM", sentence: str, bos: bool = True, eos: bool = True, *,
                    case: str = DEFAULTS["case"], oov: str = DEFAULTS["oov"],
                    oov_penalty: float = DEFAULTS["oov_penalty"],
                    max_oov_rate: float = DEFAULTS["max_oov_rate"]) -> Iterator[tuple[float, int, bool]]:
        """(log10 P, ngram_length, oov) for each word of ``sentence`` and, with ``eos``, its
        ``</s>`` (KenLM's ``full_scores``).

        ``ngram_length`` is the number of words the prediction rests on, counted as KenLM
        counts an n-gram: ``<s>`` (with ``bos``), the words before, and the word itself;
        an RNN uses them all, so it is never capped (the k-th word after ``<s>``, from 0,
        gets k + 2; after the null context, k + 1; for a backward model the words after it
        are its context). ``oov`` is True for a word outside the vocabulary (scored as
        ``<unk>`` or ``oov_penalty``, as in :meth:`RNNLM.score`). With ``bos`` the values are
        exactly :meth:`RNNLM.word_logprobs`; ``bos=False`` starts from the null context
        (:meth:`null_context_write`). A leading ``<s>`` in the text is the sentence start.
        The sentence is scored when this is called (errors raise then), not as it is iterated.
        """
        words, log10, bos = self._sentence_log10(sentence, bos, eos, case, oov, oov_penalty, max_oov_rate)
        n, start = len(words), 2 if bos else 1
        # a backward model's context of word k: <s> and the n - k words from it to the end
        lengths = [(n - k + 1 if k < n else n + 2) if self.backward else k + start for k in range(len(log10))]
        return iter([(lp, length, k < n and words[k] not in self.vocab)
                     for k, (lp, length) in enumerate(zip(log10.tolist(), lengths))])

    def _sentence_log10(self: "RNNLM", sentence: str, bos: bool, eos: bool, case: str, oov: str,
                        oov_penalty: float, max_oov_rate: float) -> tuple[list[str], np.ndarray, bool]:
        """The words of one sentence (case-mapped, a leading <s> dropped), their log10
        probabilities (then </s>'s, with ``eos``), and whether it starts at <s>. Public calls
        of the model only: ``word_logprobs`` from <s>, the state API from the null context."""
        if not isinstance(sentence, str):
            raise ConfigError(f"sentence must be a str, not {type(sentence).__name__}")
        words = _core.split_words(case_mapping(case)(sentence))
        if words and words[0] == BOS and BOS not in self.vocab:
            words, bos = words[1:], True
        if bos:
            lp = self.word_logprobs(" ".join(words), oov=oov, oov_penalty=oov_penalty,
                                    max_oov_rate=max_oov_rate)
        else:
            if self.backward:
                raise ConfigError("bos=False (the null context) is defined for a forward model only; "
                                  "a backward model reads every sentence from its end")
            encode_checked(self.vocab, [" ".join(words)], "keep", max_oov_rate, backward=False, stacklevel=5)
            lp = self._step_through(words, oov, oov_penalty)
        return words, lp if eos else lp[:-1], bos

    def _step_through(self: "RNNLM", words: list[str], oov: str, oov_penalty: float) -> np.ndarray:
        """log10 of each word and of </s>, stepped one word at a time from the null context."""
        state, nxt = State(), State()
        self.null_context_write(state)
        out = []
        for w in words + [EOS]:
            out.append(self.base_score(state, w, nxt, oov=oov, oov_penalty=oov_penalty))
            state, nxt = nxt, state
        return np.array(out)

    # --- the state API (decoders) ---------------------------------------------------------
    def _fill(self: "RNNLM", state: State) -> _core.DecoderState:
        if not isinstance(state, State):
            raise ConfigError(f"expected a rnnlm_fast.State, not {type(state).__name__}")
        if self.backward:
            raise ConfigError("the state API steps left to right; this is a backward model (it reads every "
                              "sentence from its end): score whole sentences with score() / full_scores()")
        if state._core is None or state._model is not self:
            state._core, state._model = _core.DecoderState(self._core), self
        return state._core

    def begin_sentence_write(self: "RNNLM", state: State) -> None:
        """Make ``state`` the sentence start (after ``<s>``); KenLM's ``BeginSentenceWrite``."""
        _core.begin_sentence(self._fill(state))
        state._bos = True

    def null_context_write(self: "RNNLM", state: State) -> None:
        """Make ``state`` the null context: the reset recurrent state with no word read (not
        even ``<s>``); KenLM's ``NullContextWrite``."""
        _core.null_context(self._fill(state))
        state._bos = False

    def base_score(self: "RNNLM", in_state: State, word: str, out_state: State, *,
                   case: str = DEFAULTS["case"], oov: str = DEFAULTS["oov"],
                   oov_penalty: float = DEFAULTS["oov_penalty"]) -> float:
        """log10 P(word | in_state), writing the state after ``word`` to ``out_state``
        (KenLM's ``BaseScore``); ``in_state`` is unchanged (it may be ``out_state``).
        ``word`` is one word; ``</s>`` scores the sentence end. Unknown words score as in
        :meth:`RNNLM.score` (``<unk>``, else ``oov_penalty``). Stepping a sentence word by
        word gives exactly :meth:`RNNLM.word_logprobs`.

        Raises ConfigError for a state never written by this model, a backward model, or a
        ``word`` that is not one word.
        """
        if not isinstance(in_state, State) or in_state._core is None or in_state._model is not self:
            raise ConfigError("in_state must be a State written by this model (begin_sentence_write, "
                              "null_context_write or base_score)")
        if not isinstance(word, str) or len(_core.split_words(word)) != 1:
            raise ConfigError(f"word must be one word (a str without spaces), not {word!r}")
        word = case_mapping(case)(word.strip())
        wid = self.vocab.get(word, self.vocab.unk_id)
        policy = oov_policy(self.vocab, oov)
        out = self._fill(out_state)
        if out is not in_state._core:
            out.assign(in_state._core)
            out_state._bos = in_state._bos
        lp = _core.score_step(self._core, out, int(wid)) / LN10
        if wid < 0 or (word not in self.vocab and policy == "penalty"):
            return float(oov_penalty)
        return float(lp)

    def next_word_distribution(self: "RNNLM", context: Union[str, Sequence[str]] = (), *,
                               case: str = DEFAULTS["case"],
                               max_oov_rate: float = DEFAULTS["max_oov_rate"]) -> np.ndarray:
        """P(w | <s> context) over the whole vocabulary (float32, sums to 1); for a backward
        model, P(w | context </s>): the distribution of the word before ``context``.

        ``context`` is a sequence of words, or a str split into words as the engine splits a
        line (a leading ``<s>`` dropped); ``case`` and ``max_oov_rate`` as in :meth:`score`.
        """
        if isinstance(context, str):
            context = _core.split_words(context)
        context = list(context)
        if not all(isinstance(w, str) for w in context):
            raise ConfigError("context must be a str or a sequence of words (str)")
        if context:  # mapped to case, a leading <s> dropped
            context = _core.split_words(prepare_sentences(self.vocab, [" ".join(context)], case)[0])
        unknown = sum(w not in self.vocab for w in context)
        if unknown:
            ids = np.full(len(context) + 1, -1, dtype=np.int32)
            ids[:-1] = [self.vocab.get(w) for w in context]
            ids[-1] = 0
            check_oov_rate(self.vocab, Encoded(ids, np.array([0, len(ids)], dtype=np.int64), unknown, ids),
                           max_oov_rate, case=case, words=lambda: context, what="the context")
        reading_order = context[::-1] if self.backward else context
        ids = np.array([self.vocab.get(w, self.vocab.unk_id) for w in reading_order], dtype=np.int32)
        return _core.next_word_distribution(self._core, ids)

    # KenLM's names
    BeginSentenceWrite = begin_sentence_write
    NullContextWrite = null_context_write
    BaseScore = base_score


def check_single_sentence_options(bos: bool, eos: bool) -> None:
    """The batch form of score takes no bos/eos: every sentence has both."""
    if bos is not True or eos is not True:
        raise ConfigError("bos and eos apply to one sentence given as a str; a list of sentences is scored "
                          "with both (pass sentences one at a time for bos=False or eos=False)")


__all__ = ["State", "KenlmApi", "UNBOUNDED_ORDER"]
