"""RNNLM's scoring calls (mixed into it): perplexity of a file, log10 P of sentences and of
their words, each through one engine call (``_core.score_positions``) over the encoded text:
8 sentences per thread advance together through the hand-written kernel that the decoder's
``State`` steps also use, so the scores are bit-identical to stepping word by word.
"""

from __future__ import annotations

import time
from typing import Optional, Sequence, Union

import numpy as np

from . import _core
from ._files import PathLike
from ._progress import counter_callback, make_bar
from .encoding import Encoded, check_oov_rate, encode_checked, encode_text, oov_policy
from .errors import ConfigError
from .kenlm_api import check_single_sentence_options
from .options import DEFAULTS, OPTIONS
from .results import PerplexityResult
from .training import dynamic_positions, resolve_threads
from .units import LN10


class ScoringCalls:
    """The batch scoring calls of :class:`rnnlm_fast.RNNLM` (``vocab``, ``backward``, the engine
    handle ``_core`` and KenLM's ``full_scores`` come from the model)."""

    # --- scoring ---------------------------------------------------------------------
    def _score_positions(self, enc: Encoded, independent: bool, threads: int,
                         progress: bool = False) -> np.ndarray:
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

    def perplexity(self, path: Union[PathLike, Encoded, None] = None, *, text: Optional[str] = None,
                   independent: bool = DEFAULTS["independent"], threads: int = DEFAULTS["threads"],
                   oov_penalty: float = DEFAULTS["oov_penalty"], dynamic: float = DEFAULTS["dynamic"],
                   per_word: bool = False, progress: bool = False, case: str = DEFAULTS["case"],
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
        enc, words = encode_text(self.vocab, self.backward, path, case, progress)
        check_oov_rate(self.vocab, enc, max_oov_rate, case=case, words=words,
                       what=f"'{path}'" if not isinstance(path, Encoded) else "the text")
        dynamic = OPTIONS["dynamic"].check(dynamic)
        start = time.perf_counter()
        if dynamic > 0:
            ln = dynamic_positions(self, enc, independent, dynamic, progress)
        else:
            ln = self._score_positions(enc, independent, threads, progress)
        seconds = time.perf_counter() - start
        return PerplexityResult.of_positions(ln, enc, self.vocab.unk_id >= 0, oov_penalty, seconds, per_word)

    def score(self, sentences: Union[str, Sequence[str]], bos: bool = True, eos: bool = True, *,
              independent: bool = not DEFAULTS["carry_state"], oov: str = DEFAULTS["oov"],
              oov_penalty: float = DEFAULTS["oov_penalty"], threads: int = DEFAULTS["threads"],
              progress: bool = False, case: str = DEFAULTS["case"],
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
            Reset the state at each sentence (default: the ``carry_state`` option's opposite);
            False carries it as rnnlm-0.4b does.
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

    def word_logprobs(self, sentence: str, *, oov: str = DEFAULTS["oov"],
                      oov_penalty: float = DEFAULTS["oov_penalty"], case: str = DEFAULTS["case"],
                      max_oov_rate: float = DEFAULTS["max_oov_rate"]) -> np.ndarray:
        """log10 P of each word of one sentence and of its final ``</s>`` (``case`` and
        ``max_oov_rate`` as in :meth:`score`)."""
        enc = encode_checked(self.vocab, [sentence], case, max_oov_rate, backward=self.backward)
        return self._log10_positions(enc, True, 1, oov, oov_penalty)

    def score_words(self, sentences: Sequence[str], *, independent: bool = not DEFAULTS["carry_state"],
                    oov: str = DEFAULTS["oov"], oov_penalty: float = DEFAULTS["oov_penalty"],
                    threads: int = DEFAULTS["threads"], case: str = DEFAULTS["case"],
                    max_oov_rate: float = DEFAULTS["max_oov_rate"]) -> list[np.ndarray]:
        """Per-word log10 probabilities (``</s>`` last) for each sentence of a batch (``case``
        and ``max_oov_rate`` as in :meth:`score`)."""
        enc = encode_checked(self.vocab, sentences, case, max_oov_rate, backward=self.backward)
        lp = self._log10_positions(enc, independent, threads, oov, oov_penalty)
        return [lp[a:b] for a, b in zip(enc.offsets[:-1], enc.offsets[1:])]
