"""WER against the LM weight on a tuning set, the other weights held at their tuned values
(``rnnlm-fast rescore --plot``): one vectorised evaluation of the tuner's error counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .combine import Weights
from .lists import AM, NbestList
from .tune import tuning_set
from .weight_search import WEIGHT_NAMES, Search, score_scale

__all__ = ["wer_by_lam"]


def wer_by_lam(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    refs: Mapping[str, str],
    weights: Weights,
    *,
    am_key: str = AM,
    old_lm_key: str | None = None,
    n_oov: np.ndarray | None = None,
    ngram_key: str | None = None,
    points: int = 41,
) -> tuple[np.ndarray, np.ndarray]:
    """The corpus WER (percent) of the rescored 1-best at ``points`` LM weights from 0 to twice
    the larger of the tuned weight and the default grid's end (2 times ``score_scale``), the
    tuned weight included; every other weight as in ``weights``.

    Returns (lambdas, WER in percent). Raises ValueError as ``tune_weights`` does.
    """
    features, errors, ref_words = tuning_set(lists, lm_scores, refs, am_key=am_key, old_lm_key=old_lm_key,
                                             n_oov=n_oov, ngram_key=ngram_key)
    top = 2.0 * max(weights.lam, score_scale(features))
    lams = np.unique(np.append(np.linspace(0.0, top, points), weights.lam))
    grid = np.tile([getattr(weights, name) for name in WEIGHT_NAMES], (len(lams), 1))
    grid[:, WEIGHT_NAMES.index("lam")] = lams
    word_errors, _ = Search(features, errors, 1.0).dense.evaluate(grid)
    return lams, 100.0 * word_errors / ref_words
