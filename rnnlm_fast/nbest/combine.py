"""Score combination: the weights, the per-hypothesis features of a set of n-best lists, and
each utterance's best hypothesis under given weights.

All scores are NATURAL logs, higher is better. The combined score of a hypothesis is::

    total = am + lam * lm + mu * old_lm + word_bonus * n_words + gamma * n_oov + ngram * ngram_lm

where ``lm`` is the new LM's sentence log-probability, ``old_lm`` the first-pass LM score
when the lists have one, ``n_words`` the number of words without sentence marks (its
weight, the word insertion bonus, was called ``beta`` before; ``beta`` is L2
regularisation in training), and ``n_oov`` the number of words outside the LM's
vocabulary, when given (its weight ``gamma`` lets tuning decide what an unknown word,
often a BPE non-word, costs), and ``ngram_lm`` the score of an n-gram LM (KenLM, ``rescore
--ngram``; rnnlm_fast/ngram.py), when given. Tuning the weights: tune.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnlm_fast.deprecation import deprecated, renamed

from .lists import AM, NbestList, check_lists
from .wer import count_words

__all__ = ["NbestFeatures", "Weights", "build_features", "combine_scores", "select_best"]


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
