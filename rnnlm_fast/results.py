"""What scoring a text returns: :class:`PerplexityResult`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .encoding import Encoded
from .training import power
from .units import LN10


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
    word_log10: np.ndarray | None = field(default=None, repr=False)
    # total over every position, unknown words as in ppl_with_oov: the sum of word_log10
    log10_prob_with_oov: float = float("nan")

    @property
    def words_per_sec(self) -> float:
        return (self.words + self.oov) / self.seconds if self.seconds > 0 else float("nan")

    @classmethod
    def of_positions(cls, ln: np.ndarray, enc: Encoded, has_unk: bool, oov_penalty: float, seconds: float,
                     per_word: bool) -> PerplexityResult:
        """The result of a text's per-position ln P (``enc``: the text; without ``<unk>`` in the
        vocabulary, unknown words score ``oov_penalty`` log10 in the figures with OOV)."""
        known = enc.ids >= 0
        n = int(known.sum())
        log10_known = float(ln[known].sum()) / LN10
        log10_all = float(ln.sum()) / LN10 if has_unk else log10_known + oov_penalty * enc.oov
        word_log10 = None
        if per_word:
            word_log10 = ln / LN10
            if not has_unk:
                word_log10[~known] = oov_penalty
            word_log10 = enc.in_text_order(word_log10)
        return cls(ppl=power(10.0, -log10_known / max(n, 1)),
                   ppl_with_oov=power(10.0, -log10_all / max(len(enc.ids), 1)),
                   log10_prob=log10_known, entropy=-log10_known / max(n, 1) * math.log2(10), words=n,
                   oov=enc.oov, sentences=enc.sentences, seconds=seconds, word_log10=word_log10,
                   log10_prob_with_oov=log10_all)
