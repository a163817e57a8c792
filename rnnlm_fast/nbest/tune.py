"""Score combination and weight tuning.

All scores are NATURAL logs, higher is better. The combined score of a hypothesis is::

    total = am + lam * lm + mu * old_lm + word_bonus * n_words + gamma * n_oov + ngram * ngram_lm

where ``lm`` is the new LM's sentence log-probability, ``old_lm`` the first-pass LM score
when the lists have one, ``n_words`` the number of words without sentence marks (its
weight, the word insertion bonus, was called ``beta`` before; ``beta`` is L2
regularisation in training), and ``n_oov`` the number of words outside the LM's
vocabulary, when given (its weight ``gamma`` lets tuning decide what an unknown word,
often a BPE non-word, costs), and ``ngram_lm`` the score of an n-gram LM (KenLM, ``rescore
--ngram``; rnnlm_fast/ngram.py), when given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnnlm_fast.options import deprecated, renamed

from .lists import AM, NbestList, check_lists
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
from .wer import check_same_utts, count_words, hypothesis_errors

__all__ = [
    "DEFAULT_GAMMA_GRID",
    "DEFAULT_LAM_GRID",
    "DEFAULT_MU_GRID",
    "DEFAULT_NGRAM_GRID",
    "DEFAULT_WORD_BONUS_GRID",
    "TUNE_LIMITS",
    "NbestFeatures",
    "TuneResult",
    "Weights",
    "build_features",
    "combine_scores",
    "score_scale",
    "select_best",
    "tune_weights",
]

# Default coarse grids (times ``score_scale``), extended automatically when the best point is
# on an end; the fine pass searches between the best point's neighbours (weight_search.py).
DEFAULT_LAM_GRID = np.round(np.arange(0.0, 2.0 + 1e-9, 0.1), 10)
DEFAULT_WORD_BONUS_GRID = np.round(np.arange(-3.0, 3.0 + 1e-9, 0.5), 10)
DEFAULT_MU_GRID = np.round(np.arange(0.0, 2.0 + 1e-9, 0.25), 10)
DEFAULT_GAMMA_GRID = np.round(np.arange(-10.0, 2.0 + 1e-9, 1.0), 10)
DEFAULT_NGRAM_GRID = DEFAULT_LAM_GRID  # an n-gram's sentence log-probability is on the RNNLM's scale

log = logging.getLogger("rnnlm_fast")


@dataclass(frozen=True, init=False)
class Weights:
    """Combination weights: ``total = am + lam*lm + mu*old_lm + word_bonus*n_words + gamma*n_oov
    + ngram*ngram_lm``.

    ``Weights(lam, word_bonus, mu, gamma, ngram)``; the old keyword ``beta=`` for ``word_bonus``
    still works, with a DeprecationWarning, and so does reading ``weights.beta``.
    """

    lam: float
    word_bonus: float = 0.0
    mu: float = 0.0
    gamma: float = 0.0
    ngram: float = 0.0

    def __init__(
        self,
        lam: float,
        word_bonus: float | None = None,
        mu: float = 0.0,
        gamma: float = 0.0,
        ngram: float = 0.0,
        *,
        beta: float | None = None,
    ) -> None:
        word_bonus = renamed("Weights(beta=...)", beta, "word_bonus", word_bonus)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "word_bonus", 0.0 if word_bonus is None else word_bonus)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "ngram", ngram)

    @property
    def beta(self) -> float:
        """Deprecated name of ``word_bonus``."""
        deprecated("Weights.beta is deprecated; use Weights.word_bonus")
        return self.word_bonus


@dataclass
class NbestFeatures:
    """Per-hypothesis features of a set of n-best lists, flattened in list order.

    Attributes
    ----------
    utt_ids : list[str]
        One per list.
    texts : list[str]
        One per hypothesis (flat order: list by list, hypotheses as stored).
    am, lm, n_words : np.ndarray
        float64, one per hypothesis; ``lm`` in natural log.
    old_lm : np.ndarray or None
        First-pass LM score (natural log), when used.
    dense : np.ndarray
        int64 (n_utts, max_hyps) flat indices, each row in rank order, -1 as padding;
        it turns "best hypothesis per utterance" into one ``argmax`` over an axis.
    n_oov : np.ndarray or None
        float64 number of out-of-vocabulary words per hypothesis, when used.
    ngram : np.ndarray or None
        An n-gram LM's score (natural log), when used.
    """

    utt_ids: list[str]
    texts: list[str]
    am: np.ndarray
    lm: np.ndarray
    n_words: np.ndarray
    old_lm: np.ndarray | None
    dense: np.ndarray
    n_oov: np.ndarray | None = None
    ngram: np.ndarray | None = None

    def totals(self, weights: Weights) -> np.ndarray:
        """Combined score of every hypothesis (natural log)."""
        return combine_scores(self.am, self.lm, self.n_words, weights, self.old_lm, self.n_oov, self.ngram)


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


def combine_scores(
    am: np.ndarray,
    lm: np.ndarray,
    n_words: np.ndarray,
    weights: Weights,
    old_lm: np.ndarray | None = None,
    n_oov: np.ndarray | None = None,
    ngram: np.ndarray | None = None,
) -> np.ndarray:
    """``am + lam*lm + mu*old_lm + word_bonus*n_words + gamma*n_oov + ngram*ngram_lm`` elementwise,
    all natural log.

    Raises
    ------
    ValueError
        If ``weights.mu`` is non-zero but there is no ``old_lm``, ``weights.gamma`` is
        non-zero but there are no OOV counts, or ``weights.ngram`` non-zero without n-gram scores.
    """
    total = am + weights.lam * lm + weights.word_bonus * n_words
    if old_lm is not None:
        total = total + weights.mu * old_lm
    elif weights.mu != 0.0:
        raise ValueError("mu is non-zero but the lists have no old LM score")
    if n_oov is not None:
        total = total + weights.gamma * n_oov
    elif weights.gamma != 0.0:
        raise ValueError("gamma is non-zero but no OOV counts were given")
    if ngram is not None:
        total = total + weights.ngram * ngram
    elif weights.ngram != 0.0:
        raise ValueError("the n-gram weight is non-zero but no n-gram scores were given")
    return total


def build_features(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    *,
    am_key: str = AM,
    old_lm_key: str | None = None,
    n_oov: np.ndarray | None = None,
    ngram_key: str | None = None,
) -> NbestFeatures:
    """Collect the per-hypothesis arrays once, for cheap repeated combination.

    Parameters
    ----------
    lists : sequence of NbestList
        The lists (each non-empty, utterance ids unique).
    lm_scores : np.ndarray
        Natural-log LM probability per hypothesis in flat order (``lm_log_probs``).
    am_key : str
        Score name of the first-pass score.
    old_lm_key : str, optional
        Score name of the first-pass LM score (e.g. ``"lm"`` for Kaldi/SRILM lists).
    n_oov : np.ndarray, optional
        Out-of-vocabulary word count per hypothesis in flat order (non-negative).
    ngram_key : str, optional
        Score name of an n-gram LM's natural-log score (``ngram.NGRAM_KEY`` for ``rescore --ngram``).

    Raises
    ------
    ValueError
        On an empty or repeated list, arrays of the wrong length, negative or
        non-finite OOV counts, or a hypothesis without one of the named scores.
    """
    check_lists(lists)
    hyps = [h for nb in lists for h in nb.hyps]
    lm_scores = np.asarray(lm_scores)
    if lm_scores.shape != (len(hyps),):
        raise ValueError(f"{lm_scores.shape} LM scores for {len(hyps)} hypotheses")
    if n_oov is not None:
        n_oov = np.asarray(n_oov, dtype=np.float64)
        if n_oov.shape != (len(hyps),):
            raise ValueError(f"{n_oov.shape} OOV counts for {len(hyps)} hypotheses")
        if not np.all(np.isfinite(n_oov)) or (n_oov < 0).any():
            raise ValueError("OOV counts must be finite and non-negative")
    missing = [k for k in (am_key, old_lm_key, ngram_key) if k and any(k not in h.scores for h in hyps)]
    if missing:
        raise ValueError(f"some hypotheses have no {missing[0]!r} score")
    width = max(len(nb.hyps) for nb in lists) if lists else 0
    dense = np.full((len(lists), width), -1, dtype=np.int64)
    start = 0
    for row, nb in enumerate(lists):
        order = sorted(range(len(nb.hyps)), key=lambda i: nb.hyps[i].rank)
        dense[row, : len(order)] = start + np.asarray(order, dtype=np.int64)
        start += len(nb.hyps)
    return NbestFeatures(
        utt_ids=[nb.utt_id for nb in lists],
        texts=[h.text for h in hyps],
        am=np.array([h.scores[am_key] for h in hyps], dtype=np.float64),
        lm=lm_scores.astype(np.float64),
        n_words=np.array([count_words(h.text) for h in hyps], dtype=np.float64),
        old_lm=(np.array([h.scores[old_lm_key] for h in hyps], dtype=np.float64) if old_lm_key else None),
        dense=dense,
        n_oov=n_oov,
        ngram=(np.array([h.scores[ngram_key] for h in hyps], dtype=np.float64) if ngram_key else None),
    )


def select_best(features: NbestFeatures, totals: np.ndarray) -> np.ndarray:
    """Flat index of the highest-scoring hypothesis of each utterance.

    Parameters
    ----------
    features : NbestFeatures
        Supplies the dense utterance x hypothesis layout.
    totals : np.ndarray
        Scores of shape (n_hyps,) or (n_settings, n_hyps).

    Returns
    -------
    np.ndarray
        int64 of shape (n_utts,) or (n_settings, n_utts); ties go to the better rank.
    """
    pad = features.dense < 0
    scores = totals[..., np.where(pad, 0, features.dense)]
    scores = np.where(pad, -np.inf, scores)
    best_col = np.argmax(scores, axis=-1)  # first maximum = better rank
    return np.take_along_axis(np.broadcast_to(features.dense, scores.shape), best_col[..., None], axis=-1)[
        ..., 0
    ]


# --------------------------------------------------------------------------- grid search


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
    features = build_features(lists, lm_scores, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov,
                              ngram_key=ngram_key)
    check_same_utts(refs, features.utt_ids, "n-best lists")
    ref_of_hyp = [refs[u] for nb in lists for u in [nb.utt_id] * len(nb.hyps)]
    errors = hypothesis_errors(ref_of_hyp, features.texts)
    ref_words = sum(len(refs[u].split()) for u in features.utt_ids)
    if ref_words == 0:
        raise ValueError("the references have no words; WER is undefined")

    used = (True, True, bool(old_lm_key), n_oov is not None, bool(ngram_key))
    given = (lam_grid, word_bonus_grid, mu_grid, gamma_grid, ngram_grid)
    auto = tuple(u and g is None for u, g in zip(used, given))
    scale = score_scale(features) if any(auto) else 1.0
    axes = [
        axis(g, tidy(default * scale) if scale != 1.0 else default, used=u)
        for g, default, u in zip(
            given,
            (DEFAULT_LAM_GRID, DEFAULT_WORD_BONUS_GRID, DEFAULT_MU_GRID, DEFAULT_GAMMA_GRID, DEFAULT_NGRAM_GRID),
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
