"""What scoring a text returns: :class:`PerplexityResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


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
    # total over every position, unknown words as in ppl_with_oov: the sum of word_log10
    log10_prob_with_oov: float = float("nan")

    @property
    def words_per_sec(self) -> float:
        return (self.words + self.oov) / self.seconds if self.seconds > 0 else float("nan")
