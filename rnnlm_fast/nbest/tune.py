"""Weight tuning on a dev set by word error rate (the combination itself: combine.py).

All scores are NATURAL logs; the weights are those of ``combine.Weights``:
``total = am + lam*lm + mu*old_lm + word_bonus*n_words + gamma*n_oov + ngram*ngram_lm``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnnlm_fast.deprecation import renamed

from .combine import NbestFeatures, Weights, build_features
from .lists import AM, NbestList
from .weight_search import (
    TUNE_LIMITS,
    WEIGHT_NAMES,
    Search,
    axis,
    local_step,
    refine_axis,
    score_scale,
    tidy,
)
from .wer import check_same_utts, hypothesis_errors

__all__ = [
    "DEFAULT_GAMMA_GRID",
    "DEFAULT_LAM_GRID",
    "DEFAULT_MU_GRID",
    "DEFAULT_NGRAM_GRID",
    "DEFAULT_WORD_BONUS_GRID",
    "TUNE_LIMITS",
    "TuneResult",
    "score_scale",
    "tune_weights",
    "tuning_set",
]

# Default coarse grids (times ``score_scale``), extended automatically when the best point is
# on an end; the fine pass searches between the best point's neighbours (weight_search.py).
DEFAULT_LAM_GRID = np.round(np.arange(0.0, 2.0 + 1e-9, 0.1), 10)
DEFAULT_WORD_BONUS_GRID = np.round(np.arange(-3.0, 3.0 + 1e-9, 0.5), 10)
DEFAULT_MU_GRID = np.round(np.arange(0.0, 2.0 + 1e-9, 0.25), 10)
DEFAULT_GAMMA_GRID = np.round(np.arange(-10.0, 2.0 + 1e-9, 1.0), 10)
DEFAULT_NGRAM_GRID = DEFAULT_LAM_GRID  # an n-gram's sentence log-probability is on the RNNLM's scale

log = logging.getLogger("rnnlm_fast")


@dataclass(frozen=True)
class TuneResult:
    """Outcome of ``tune_weights``: the best weights and their corpus WER/SER.

    ``evaluated`` counts the grid points tried; ``on_edge`` names the weights that ended
    on a limit of their search (a hard limit of the automatic search, or an end of an
    explicit grid): their best value may lie beyond it. ``scale`` is the factor the
    default grids were multiplied by (``score_scale``; 1 when every grid was explicit).
    """

    weights: Weights
    wer: float
    ser: float
    errors: int
    ref_words: int
    evaluated: int
    on_edge: tuple[str, ...] = ()
    scale: float = 1.0


# --------------------------------------------------------------------------- grid search


def tuning_set(lists: Sequence[NbestList], lm_scores: np.ndarray, refs: Mapping[str, str], *,
               am_key: str = AM, old_lm_key: str | None = None, n_oov: np.ndarray | None = None,
               ngram_key: str | None = None) -> tuple[NbestFeatures, np.ndarray, int]:
    """A tuning set as the search reads it: the features (``build_features``), every
    hypothesis's word errors against its reference (counted once), and the references' words.

    Raises ValueError as ``build_features``; or if the utterance ids differ from ``refs`` or
    the references have no words.
    """
    features = build_features(lists, lm_scores, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov,
                              ngram_key=ngram_key)
    check_same_utts(refs, features.utt_ids, "n-best lists")
    ref_of_hyp = [refs[u] for nb in lists for u in [nb.utt_id] * len(nb.hyps)]
    errors = hypothesis_errors(ref_of_hyp, features.texts)
    ref_words = sum(len(refs[u].split()) for u in features.utt_ids)
    if ref_words == 0:
        raise ValueError("the references have no words; WER is undefined")
    return features, errors, ref_words


def tune_weights(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    refs: Mapping[str, str],
    *,
    am_key: str = AM,
    old_lm_key: str | None = None,
    lam_grid: Sequence[float] | None = None,
    word_bonus_grid: Sequence[float] | None = None,
    mu_grid: Sequence[float] | None = None,
    refine: bool = True,
    n_oov: np.ndarray | None = None,
    gamma_grid: Sequence[float] | None = None,
    beta_grid: Sequence[float] | None = None,
    ngram_key: str | None = None,
    ngram_grid: Sequence[float] | None = None,
) -> TuneResult:
    """Search ``lam``, ``word_bonus`` (``mu`` with an old LM, ``gamma`` with OOV counts) for the
    lowest dev WER, wherever it lies.

    Each hypothesis's word errors are counted once; a grid point then costs one
    vectorised argmax per utterance. A weight without an explicit grid is searched
    automatically:

    1. its default grid (and its step and hard limit) is multiplied by ``score_scale``, the
       first-pass score's spread over the LM score's: multiplying the first-pass scores by a
       constant (Kaldi's unscaled acoustic costs) multiplies the tuned weights by it and
       leaves the choices and the WER unchanged;
    2. while the best point is on an end of the grid, the grid is extended beyond it by 10
       points at twice the previous extension's step (its reach doubles); an extension is
       kept only if it finds fewer errors, and stops at ``TUNE_LIMITS`` (times the scale);
    3. (with ``refine``) an 11-point grid per axis between the best point's neighbours,
       as for explicit grids;
    4. (with ``refine``) line searches, Powell-style as SRILM's nbest-optimize: along each
       weight, along a fan of diagonals of each pair of weights (lam and word_bonus often
       form a diagonal ridge), then along the round's overall move, each time to the best
       point with fewer errors, until a round moves nothing.

    An explicit grid is searched exactly as given (its points, then the fine pass
    between neighbours), never extended or scaled. Ties are broken by fewer sentence
    errors, then grid order; the search is deterministic.

    Parameters
    ----------
    lists : sequence of NbestList
        Dev-set n-best lists.
    lm_scores : np.ndarray
        Natural-log LM probability per hypothesis (``lm_log_probs``).
    refs : mapping of str to str
        Utterance id -> reference; exactly the lists' utterances.
    am_key, old_lm_key : str
        Score names, as in ``build_features``; ``mu`` is searched only with
        ``old_lm_key``.
    lam_grid, word_bonus_grid, mu_grid : sequence of float, optional
        Explicit grids; defaults 0..2 step 0.1, -3..3 step 0.5, 0..2 step 0.25,
        searched automatically as above.
    refine : bool
        Run the fine pass and the line searches.
    n_oov : np.ndarray, optional
        OOV word count per hypothesis in flat order; ``gamma`` is searched only with it.
    gamma_grid : sequence of float, optional
        Explicit grid of the OOV weight (natural log per OOV word); default -10..2
        step 1, searched automatically. A single value fixes it.
    beta_grid : sequence of float, optional
        Deprecated name of ``word_bonus_grid`` (DeprecationWarning).
    ngram_key : str, optional
        Score name of an n-gram LM's score; its weight ``ngram`` is searched only with it.
    ngram_grid : sequence of float, optional
        Explicit grid of the n-gram weight; default as ``lam``'s, searched automatically.

    Returns
    -------
    TuneResult
        With ``on_edge``: the weights that ended on a limit of their search (a hard
        limit, or an end of an explicit grid), also logged as a warning on the
        ``rnnlm_fast`` logger; and ``scale``, the factor the default grids were
        multiplied by.

    Raises
    ------
    ValueError
        As ``build_features``; or if the utterance ids differ from ``refs`` or the
        references have no words.
    TypeError
        If both ``word_bonus_grid`` and ``beta_grid`` are given.
    """
    word_bonus_grid = renamed("tune_weights(beta_grid=...)", beta_grid, "word_bonus_grid", word_bonus_grid)
    features, errors, ref_words = tuning_set(lists, lm_scores, refs, am_key=am_key, old_lm_key=old_lm_key,
                                             n_oov=n_oov, ngram_key=ngram_key)
    used = (True, True, bool(old_lm_key), n_oov is not None, bool(ngram_key))
    given = (lam_grid, word_bonus_grid, mu_grid, gamma_grid, ngram_grid)
    auto = tuple(u and g is None for u, g in zip(used, given))
    scale = score_scale(features) if any(auto) else 1.0
    axes = [
        axis(g, tidy(default * scale) if scale != 1.0 else default, used=u)
        for g, default, u in zip(
            given,
            (DEFAULT_LAM_GRID, DEFAULT_WORD_BONUS_GRID, DEFAULT_MU_GRID, DEFAULT_GAMMA_GRID,
             DEFAULT_NGRAM_GRID),
            used,
        )
    ]
    search = Search(features, errors, scale)
    best = search.grid(axes)
    if any(auto):
        axes, best = search.extend(axes, best, auto)
    if refine:
        fine_axes = [refine_axis(a, b) for a, b in zip(axes, best)]
        best = min(best, search.grid(fine_axes), key=lambda r: r[-2:])  # fine includes the coarse best
        if any(auto):
            steps = [local_step(a, b) for a, b in zip(axes, best)]
            best = search.polish(best, auto, steps)
    on_edge = tuple(
        name
        for k, (name, a, b) in enumerate(zip(WEIGHT_NAMES, axes, best))
        if used[k]
        and (search.on_edge(k, b) if auto[k] else len(np.unique(a)) > 1 and b in (a.min(), a.max()))
    )
    if on_edge:
        log.warning(
            "tuning: %s ended on the limit of its search range (%s); the best value may lie beyond it",
            ", ".join(on_edge),
            ", ".join(f"{n} {best[WEIGHT_NAMES.index(n)]:g}" for n in on_edge),
        )
    *values, word_errors, sentence_errors = best
    return TuneResult(
        weights=Weights(**{name: float(v) for name, v in zip(WEIGHT_NAMES, values)}),
        wer=word_errors / ref_words,
        ser=sentence_errors / len(features.utt_ids),
        errors=int(word_errors),
        ref_words=ref_words,
        evaluated=search.evaluated,
        on_edge=on_edge,
        scale=scale,
    )
