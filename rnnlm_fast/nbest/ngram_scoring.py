"""``rnnlm-fast rescore --ngram LM``: an n-gram LM (KenLM) next to the RNNLM (its flags:
rnnlm_fast/ngram_cli.py).

Two ways (rnnlm_fast/ngram.py holds the rules both models share):

- a feature: every hypothesis gets the n-gram's natural-log score as ``scores["ngram_ln"]``
  (``NGRAM_KEY``), weighted by ``ngram`` in ``total = am + lam*lm + ... + ngram*ngram_ln``,
  tuned with the other weights (``--ngram-weight`` fixes it);
- ``--ngram-interpolate W``: the LM score itself becomes the word-by-word mixture
  ``sum log(W * P_ngram + (1 - W) * P_rnn)`` (rnnlm-0.4b's ``-lm-prob``), weighted by ``lam``;
  the n-gram's own score is still kept as ``ngram_ln`` for the output lists, unweighted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnnlm_fast.errors import ConfigError
from rnnlm_fast.ngram import NgramLM, interpolated_scores, ngram_sentence_scores
from rnnlm_fast.units import LN10

from .lists import NbestList
from .scoring import attach_scores, score_models

if TYPE_CHECKING:
    from rnnlm_fast.model import RNNLM

__all__ = ["NGRAM_KEY", "score_with_ngram"]

NGRAM_KEY = "ngram_ln"


def score_with_ngram(lists: Sequence[NbestList], models: Sequence[RNNLM], mix: np.ndarray,
                     mu_model: RNNLM | None, ngram: NgramLM | None, weight: float | None,
                     **options) -> tuple[np.ndarray, float]:
    """``score_models``, with the n-gram's score attached to every hypothesis as ``NGRAM_KEY``
    (natural log) and, with an interpolation ``weight``, the LM score the word-by-word mixture
    of ``models[0]`` and the n-gram. Returns (natural-log LM score per hypothesis, seconds)."""
    if ngram is None:
        return score_models(lists, models, mix, mu_model, **options)
    sentences = [h.text for nb in lists for h in nb.hyps]
    case, oov = options["case"], options["oov"]
    if weight is None:
        lm, seconds = score_models(lists, models, mix, mu_model, **options)
        start = time.perf_counter()
        ngram_ln = ngram_sentence_scores(models[0], ngram, sentences, case=case, oov=oov) * LN10
        attach_scores(lists, NGRAM_KEY, ngram_ln)
        return lm, seconds + time.perf_counter() - start
    start = time.perf_counter()
    scores = interpolated_scores(models[0], ngram, sentences, weight, independent=not options["carry_state"],
                                 oov=oov, oov_penalty=options["oov_penalty"], threads=options["threads"],
                                 case=case, max_oov_rate=options["max_oov_rate"])
    lm = scores.aligned.per_sentence(scores.mixed) * LN10
    attach_scores(lists, NGRAM_KEY, scores.aligned.per_sentence(scores.ngram) * LN10)
    bad = np.flatnonzero(~np.isfinite(lm))
    if bad.size:
        raise ConfigError(f"hypothesis {sentences[int(bad[0])]!r} has probability 0 in the interpolation: "
                          "the RNNLM has no <unk>, so its unknown words get the n-gram's share only; use "
                          "--ngram-interpolate above 0")
    return lm, time.perf_counter() - start
