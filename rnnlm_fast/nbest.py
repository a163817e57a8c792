"""N-best rescoring: LM scoring in one batched call, score combination, tuning and WER.

All scores are NATURAL logs, higher is better. The combined score of a hypothesis is::

    total = am + lam * lm + mu * old_lm + beta * n_words + gamma * n_oov

where ``lm`` is the new LM's sentence log-probability (``score_fn`` returns log10; it is
multiplied by ln 10 here), ``old_lm`` the first-pass LM score when the lists have one,
``n_words`` the number of words without sentence marks, and ``n_oov`` the number of words
outside the LM's vocabulary, when given (its weight ``gamma`` lets tuning decide what an
unknown word, often a BPE non-word, costs). Formats live in ``rnnlm_fast.nbest_formats``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rnnlm_fast.nbest_formats import (
    Hypothesis,
    NbestList,
    write_text,
    write_tsv_nbest,
)

__all__ = [
    "LN10",
    "NbestFeatures",
    "TuneResult",
    "Weights",
    "build_features",
    "combine_scores",
    "count_words",
    "hypothesis_errors",
    "interpolate_word_probs",
    "lm_log_probs",
    "oracle_wer",
    "rescore",
    "rescored_lists",
    "select_best",
    "tune_weights",
    "word_error_rate",
    "write_one_best",
    "write_rescored_tsv",
]

LN10 = math.log(10.0)
SENTENCE_MARKS = frozenset({"<s>", "</s>"})
ScoreFn = Callable[[list[str]], np.ndarray]

# Default coarse grids; the fine pass searches between the best point's neighbours.
DEFAULT_LAM_GRID = np.round(np.arange(0.0, 2.0 + 1e-9, 0.1), 10)
DEFAULT_BETA_GRID = np.round(np.arange(-3.0, 3.0 + 1e-9, 0.5), 10)
DEFAULT_MU_GRID = np.round(np.arange(0.0, 2.0 + 1e-9, 0.25), 10)
DEFAULT_GAMMA_GRID = np.round(np.arange(-10.0, 2.0 + 1e-9, 1.0), 10)
_FINE_POINTS = 11
_CHUNK_ELEMENTS = 1 << 23  # bounds the (grid, utt, hyp) score tensor to ~64 MB


@dataclass(frozen=True)
class Weights:
    """Combination weights: ``total = am + lam*lm + mu*old_lm + beta*n_words + gamma*n_oov``."""

    lam: float
    beta: float = 0.0
    mu: float = 0.0
    gamma: float = 0.0


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
    """

    utt_ids: list[str]
    texts: list[str]
    am: np.ndarray
    lm: np.ndarray
    n_words: np.ndarray
    old_lm: np.ndarray | None
    dense: np.ndarray
    n_oov: np.ndarray | None = None

    def totals(self, weights: Weights) -> np.ndarray:
        """Combined score of every hypothesis (natural log)."""
        return combine_scores(self.am, self.lm, self.n_words, weights, self.old_lm, self.n_oov)


@dataclass(frozen=True)
class TuneResult:
    """Outcome of ``tune_weights``: the best weights and their corpus WER/SER."""

    weights: Weights
    wer: float
    ser: float
    errors: int
    ref_words: int
    evaluated: int


# --------------------------------------------------------------------------- WER


def count_words(text: str) -> int:
    """Number of words in ``text``, not counting ``<s>`` and ``</s>``."""
    return sum(1 for w in text.split() if w not in SENTENCE_MARKS)


def _edit_counts(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    """(n, 3) int64 substitutions, deletions, insertions of each (ref, hyp) pair."""
    import jiwer  # imported here so that reading formats does not need it

    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    counts = np.zeros((len(refs), 3), dtype=np.int64)
    # jiwer wants non-empty sides; an empty side is all deletions or insertions.
    both = []
    for i, (r, h) in enumerate(zip(refs, hyps)):
        nr, nh = len(r.split()), len(h.split())
        if nr and nh:
            both.append(i)
        else:
            counts[i] = (0, nr, nh)
    if both:
        out = jiwer.process_words(
            [" ".join(refs[i].split()) for i in both], [" ".join(hyps[i].split()) for i in both]
        )
        for i, chunks in zip(both, out.alignments):
            for c in chunks:
                if c.type == "substitute":
                    counts[i, 0] += c.ref_end_idx - c.ref_start_idx
                elif c.type == "delete":
                    counts[i, 1] += c.ref_end_idx - c.ref_start_idx
                elif c.type == "insert":
                    counts[i, 2] += c.hyp_end_idx - c.hyp_start_idx
    return counts


def hypothesis_errors(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    """Word errors (S + D + I) of each hypothesis against its reference.

    Parameters
    ----------
    refs, hyps : sequence of str
        Paired references and hypotheses (same length), words separated by spaces.

    Returns
    -------
    np.ndarray
        int64 error count per pair, from one batched jiwer call.
    """
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    return _edit_counts(refs, hyps).sum(axis=1)


def _check_same_utts(refs: Mapping[str, str], utts: Sequence[str] | set[str], what: str) -> None:
    ref_set, other = set(refs), set(utts)
    if ref_set != other:
        only_ref = sorted(ref_set - other)
        only_other = sorted(other - ref_set)
        raise ValueError(
            f"utterance ids differ between references and {what}: "
            f"{len(only_ref)} only in references (e.g. {only_ref[:3]}), "
            f"{len(only_other)} only in {what} (e.g. {only_other[:3]})"
        )


def word_error_rate(refs: Mapping[str, str], hyps: Mapping[str, str]) -> dict:
    """Corpus word error rate and sentence error rate (word level, via jiwer).

    Parameters
    ----------
    refs, hyps : mapping of str to str
        Utterance id -> words. Both must have exactly the same utterance ids.

    Returns
    -------
    dict
        ``wer`` and ``ser`` (fractions, not percent), ``errors``, ``substitutions``,
        ``deletions``, ``insertions``, ``ref_words``, ``sentences``, ``sentence_errors``.

    Raises
    ------
    ValueError
        If the utterance ids differ or the references have no words.
    """
    _check_same_utts(refs, list(hyps), "hypotheses")
    utts = list(refs)
    counts = _edit_counts([refs[u] for u in utts], [hyps[u] for u in utts])
    ref_words = sum(len(refs[u].split()) for u in utts)
    if ref_words == 0:
        raise ValueError("the references have no words; WER is undefined")
    per_sentence = counts.sum(axis=1)
    errors = int(per_sentence.sum())
    sentence_errors = int(np.count_nonzero(per_sentence))
    return {
        "wer": errors / ref_words,
        "ser": sentence_errors / len(utts),
        "errors": errors,
        "substitutions": int(counts[:, 0].sum()),
        "deletions": int(counts[:, 1].sum()),
        "insertions": int(counts[:, 2].sum()),
        "ref_words": ref_words,
        "sentences": len(utts),
        "sentence_errors": sentence_errors,
    }


def oracle_wer(lists: Sequence[NbestList], refs: Mapping[str, str], n: int | None = None) -> dict:
    """WER of the best hypothesis per list chosen with knowledge of the reference.

    Parameters
    ----------
    lists : sequence of NbestList
        The n-best lists; every utterance of ``refs`` exactly once.
    refs : mapping of str to str
        Utterance id -> reference words.
    n : int, optional
        Only consider the ``n`` best ranks (oracle@n). Default: all.

    Returns
    -------
    dict
        ``word_error_rate`` of the oracle choice, plus ``"n"``; ties go to the better rank.
    """
    if n is not None and n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    _check_lists(lists)
    _check_same_utts(refs, [nb.utt_id for nb in lists], "n-best lists")
    pairs = [(nb.utt_id, h) for nb in lists for h in _ranked(nb)[:n]]
    errors = hypothesis_errors([refs[u] for u, _ in pairs], [h.text for _, h in pairs])
    choice: dict[str, tuple[int, str]] = {}
    for (utt, hyp), e in zip(pairs, errors):
        if utt not in choice or e < choice[utt][0]:  # strict: earlier rank wins ties
            choice[utt] = (int(e), hyp.text)
    result = word_error_rate(refs, {u: t for u, (_, t) in choice.items()})
    result["n"] = n
    return result


def _ranked(nbest: NbestList) -> list[Hypothesis]:
    return sorted(nbest.hyps, key=lambda h: h.rank)


def _check_lists(lists: Sequence[NbestList]) -> None:
    seen = set()
    for nb in lists:
        if nb.utt_id in seen:
            raise ValueError(f"utterance {nb.utt_id!r} has two n-best lists")
        if not nb.hyps:
            raise ValueError(f"n-best list of {nb.utt_id!r} is empty")
        seen.add(nb.utt_id)


# --------------------------------------------------------------------------- LM scores


def lm_log_probs(lists: Sequence[NbestList], score_fn: ScoreFn, batch_size: int | None = None) -> np.ndarray:
    """Score every hypothesis with ``score_fn`` and return NATURAL-log probabilities.

    Parameters
    ----------
    lists : sequence of NbestList
        The lists; hypotheses are scored in flat order (list by list, as stored).
    score_fn : callable
        ``score_fn(sentences: list[str]) -> np.ndarray`` of float64 LOG10 sentence
        probabilities, one per sentence (the shape of ``RNNLM.score``).
    batch_size : int, optional
        Sentences per call; default all in one call.

    Returns
    -------
    np.ndarray
        float64, one natural-log probability per hypothesis (log10 times ln 10).

    Raises
    ------
    TypeError, ValueError
        If ``score_fn`` returns something other than a finite float64 vector of the
        right length.
    """
    sentences = [h.text for nb in lists for h in nb.hyps]
    step = batch_size or max(len(sentences), 1)
    parts = []
    for start in range(0, len(sentences), step):
        batch = sentences[start : start + step]
        out = score_fn(batch)
        if not isinstance(out, np.ndarray) or out.dtype != np.float64:
            raise TypeError(
                f"score_fn must return a float64 numpy array, got "
                f"{type(out).__name__} {getattr(out, 'dtype', '')}"
            )
        if out.shape != (len(batch),):
            raise ValueError(f"score_fn returned shape {out.shape} for {len(batch)} sentences")
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"score_fn returned {out[i]} for sentence {batch[i]!r}")
        parts.append(out)
    log10 = np.concatenate(parts) if parts else np.zeros(0)
    return log10 * LN10  # log10 -> ln, explicitly


def combine_scores(
    am: np.ndarray,
    lm: np.ndarray,
    n_words: np.ndarray,
    weights: Weights,
    old_lm: np.ndarray | None = None,
    n_oov: np.ndarray | None = None,
) -> np.ndarray:
    """``am + lam*lm + mu*old_lm + beta*n_words + gamma*n_oov`` elementwise, all natural log.

    Raises
    ------
    ValueError
        If ``weights.mu`` is non-zero but there is no ``old_lm``, or ``weights.gamma``
        is non-zero but there are no OOV counts.
    """
    total = am + weights.lam * lm + weights.beta * n_words
    if old_lm is not None:
        total = total + weights.mu * old_lm
    elif weights.mu != 0.0:
        raise ValueError("mu is non-zero but the lists have no old LM score")
    if n_oov is not None:
        total = total + weights.gamma * n_oov
    elif weights.gamma != 0.0:
        raise ValueError("gamma is non-zero but no OOV counts were given")
    return total


def build_features(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    *,
    am_key: str = "am",
    old_lm_key: str | None = None,
    n_oov: np.ndarray | None = None,
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
    """
    _check_lists(lists)
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
    missing = [k for k in (am_key, old_lm_key) if k and any(k not in h.scores for h in hyps)]
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


# --------------------------------------------------------------------------- tuning


def _evaluate_grid(
    features: NbestFeatures, errors: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Corpus errors and sentence errors for each (lam, beta, mu, gamma) row of ``grid``."""
    n_utt, width = features.dense.shape
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n_utt * width))
    old = features.old_lm if features.old_lm is not None else np.zeros_like(features.am)
    oov = features.n_oov if features.n_oov is not None else np.zeros_like(features.am)
    word_errs, sent_errs = [], []
    for start in range(0, len(grid), chunk):
        g = grid[start : start + chunk]
        totals = (
            features.am[None, :]
            + g[:, 0:1] * features.lm[None, :]
            + g[:, 1:2] * features.n_words[None, :]
            + g[:, 2:3] * old[None, :]
            + g[:, 3:4] * oov[None, :]
        )
        chosen_errors = errors[select_best(features, totals)]
        word_errs.append(chosen_errors.sum(axis=1))
        sent_errs.append(np.count_nonzero(chosen_errors, axis=1))
    return np.concatenate(word_errs), np.concatenate(sent_errs)


def _mesh(*axes: np.ndarray) -> np.ndarray:
    return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)


def _refine(grid: np.ndarray, best: float, points: int = _FINE_POINTS) -> np.ndarray:
    """A finer grid spanning the best value's neighbours in ``grid``."""
    values = np.unique(grid)
    if len(values) == 1:
        return values
    i = int(np.searchsorted(values, best))
    lo, hi = values[max(i - 1, 0)], values[min(i + 1, len(values) - 1)]
    # Rounding keeps printed weights tidy (0.1, not 0.10000000000000009).
    return np.unique(np.round(np.concatenate([np.linspace(lo, hi, points), [best]]), 12))


def tune_weights(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    refs: Mapping[str, str],
    *,
    am_key: str = "am",
    old_lm_key: str | None = None,
    lam_grid: Sequence[float] | None = None,
    beta_grid: Sequence[float] | None = None,
    mu_grid: Sequence[float] | None = None,
    refine: bool = True,
    n_oov: np.ndarray | None = None,
    gamma_grid: Sequence[float] | None = None,
) -> TuneResult:
    """Grid-search ``lam``, ``beta`` (``mu`` with an old LM, ``gamma`` with OOV counts) for the lowest dev WER.

    Each hypothesis's word errors are counted once; a grid point then costs one
    vectorised argmax per utterance. A coarse grid is searched first, then (with
    ``refine``) an 11-point grid per axis between the best point's neighbours.
    Ties are broken by fewer sentence errors, then grid order.

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
    lam_grid, beta_grid, mu_grid : sequence of float, optional
        Coarse grids; defaults 0..2 step 0.1, -3..3 step 0.5, 0..2 step 0.25.
    refine : bool
        Run the fine pass.
    n_oov : np.ndarray, optional
        OOV word count per hypothesis in flat order; ``gamma`` is searched only with it.
    gamma_grid : sequence of float, optional
        Coarse grid of the OOV weight (natural log per OOV word); default -10..2 step 1.
        A single value fixes it.

    Returns
    -------
    TuneResult
    """
    features = build_features(lists, lm_scores, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov)
    _check_same_utts(refs, features.utt_ids, "n-best lists")
    ref_of_hyp = [refs[u] for nb in lists for u in [nb.utt_id] * len(nb.hyps)]
    errors = hypothesis_errors(ref_of_hyp, features.texts)
    ref_words = sum(len(refs[u].split()) for u in features.utt_ids)
    if ref_words == 0:
        raise ValueError("the references have no words; WER is undefined")

    axes = [
        np.asarray(DEFAULT_LAM_GRID if lam_grid is None else lam_grid, dtype=np.float64),
        np.asarray(DEFAULT_BETA_GRID if beta_grid is None else beta_grid, dtype=np.float64),
        np.asarray(
            (DEFAULT_MU_GRID if mu_grid is None else mu_grid) if old_lm_key else [0.0],
            dtype=np.float64,
        ),
        np.asarray(
            (DEFAULT_GAMMA_GRID if gamma_grid is None else gamma_grid) if n_oov is not None else [0.0],
            dtype=np.float64,
        ),
    ]
    best, evaluated = _search(features, errors, _mesh(*axes))
    if refine:
        fine_axes = [_refine(a, b) for a, b in zip(axes, best[:4])]
        fine_best, n_fine = _search(features, errors, _mesh(*fine_axes))
        evaluated += n_fine
        best = min(best, fine_best, key=lambda r: (r[4], r[5]))  # fine includes the coarse best
    lam, beta, mu, gamma, word_errors, sentence_errors = best
    return TuneResult(
        weights=Weights(lam=float(lam), beta=float(beta), mu=float(mu), gamma=float(gamma)),
        wer=word_errors / ref_words,
        ser=sentence_errors / len(features.utt_ids),
        errors=int(word_errors),
        ref_words=ref_words,
        evaluated=evaluated,
    )


def _search(
    features: NbestFeatures, errors: np.ndarray, grid: np.ndarray
) -> tuple[tuple[float, float, float, float, int, int], int]:
    word_errs, sent_errs = _evaluate_grid(features, errors, grid)
    i = int(np.lexsort((np.arange(len(grid)), sent_errs, word_errs))[0])
    lam, beta, mu, gamma = grid[i]
    return (float(lam), float(beta), float(mu), float(gamma), int(word_errs[i]), int(sent_errs[i])), len(grid)


# --------------------------------------------------------------------------- rescoring


def rescore(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    weights: Weights,
    refs: Mapping[str, str] | None = None,
    *,
    am_key: str = "am",
    old_lm_key: str | None = None,
    n_oov: np.ndarray | None = None,
) -> tuple[dict[str, str], dict]:
    """Pick each utterance's new 1-best with the combined score.

    Parameters
    ----------
    lists : sequence of NbestList
        The lists.
    lm_scores : np.ndarray
        Natural-log LM probability per hypothesis (``lm_log_probs``).
    weights : Weights
        Combination weights (e.g. ``tune_weights(...).weights``).
    refs : mapping of str to str, optional
        References; with them the report has WER/SER before and after and the
        oracle WER.
    am_key, old_lm_key : str
        Score names, as in ``build_features``.
    n_oov : np.ndarray, optional
        OOV word count per hypothesis (needed when ``weights.gamma`` is non-zero).

    Returns
    -------
    one_best : dict[str, str]
        Utterance id -> new 1-best text, in list order.
    report : dict
        ``weights``, ``utterances``, ``hypotheses``, ``changed`` (utterances whose
        1-best changed) and, with ``refs``: ``wer_before``, ``ser_before``,
        ``wer_after``, ``ser_after``, ``oracle_wer`` (fractions).
    """
    features = build_features(lists, lm_scores, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov)
    chosen = select_best(features, features.totals(weights))
    one_best = {u: features.texts[i] for u, i in zip(features.utt_ids, chosen)}
    before = {nb.utt_id: nb.best().text for nb in lists}
    report: dict = {
        "weights": asdict(weights),
        "utterances": len(lists),
        "hypotheses": len(features.texts),
        "changed": sum(before[u] != t for u, t in one_best.items()),
    }
    if refs is not None:
        wer_before = word_error_rate(refs, before)
        wer_after = word_error_rate(refs, one_best)
        report.update(
            wer_before=wer_before["wer"],
            ser_before=wer_before["ser"],
            wer_after=wer_after["wer"],
            ser_after=wer_after["ser"],
            oracle_wer=oracle_wer(lists, refs)["wer"],
            ref_words=wer_after["ref_words"],
        )
    return one_best, report


def rescored_lists(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    weights: Weights,
    *,
    am_key: str = "am",
    old_lm_key: str | None = None,
    lm_name: str = "rnnlm",
    n_oov: np.ndarray | None = None,
) -> list[NbestList]:
    """Copies of ``lists`` with the new LM score and the combined ``"total"`` added.

    Ranks stay the first-pass ranks; sort by ``scores["total"]`` for the new order.
    """
    features = build_features(lists, lm_scores, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov)
    totals = features.totals(weights)
    out, i = [], 0
    for nb in lists:
        hyps = []
        for h in nb.hyps:
            scores = {**h.scores, lm_name: float(features.lm[i]), "total": float(totals[i])}
            hyps.append(Hypothesis(h.text, scores, h.rank))
            i += 1
        out.append(NbestList(nb.utt_id, hyps))
    return out


def write_one_best(path: str | Path, one_best: Mapping[str, str]) -> None:
    """Write ``<utt-id> <words>`` lines (Kaldi ``text`` style)."""
    write_text(path, dict(one_best))


def write_rescored_tsv(
    path: str | Path,
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    weights: Weights,
    *,
    am_key: str = "am",
    old_lm_key: str | None = None,
    n_oov: np.ndarray | None = None,
) -> None:
    """Write the full lists with their new scores as TSV (``nbest_formats`` TSV format)."""
    write_tsv_nbest(
        path, rescored_lists(lists, lm_scores, weights, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov)
    )


# --------------------------------------------------------------------------- interpolation


def interpolate_word_probs(
    rnn_log10: Sequence[np.ndarray],
    other_probs: Sequence[np.ndarray],
    weight: float,
) -> np.ndarray:
    """Per-word linear interpolation with another LM, as rnnlm-0.4b ``-lm-prob``/``-lambda``.

    For every word ``p = weight * p_rnn + (1 - weight) * p_other``; the sentence score
    is the sum of ``log10 p``. An RNN log10 of ``-inf`` (e.g. an OOV word) leaves the
    other LM's share.

    Parameters
    ----------
    rnn_log10 : sequence of np.ndarray
        Per hypothesis, the RNN's per-word log10 probabilities, including ``</s>``.
    other_probs : sequence of np.ndarray
        Per hypothesis, the other LM's per-word probabilities (linear, in [0, 1]),
        same lengths.
    weight : float
        The RNN's weight, in [0, 1].

    Returns
    -------
    np.ndarray
        float64 interpolated log10 sentence probabilities, one per hypothesis.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    if len(rnn_log10) != len(other_probs):
        raise ValueError(f"{len(rnn_log10)} RNN hypotheses but {len(other_probs)} other-LM ones")
    if not rnn_log10:
        return np.zeros(0)
    lengths = np.array([len(a) for a in rnn_log10], dtype=np.int64)
    for i, (a, b) in enumerate(zip(rnn_log10, other_probs)):
        if len(a) != len(b) or len(a) == 0:
            raise ValueError(
                f"hypothesis {i}: {len(a)} RNN and {len(b)} other-LM word probabilities "
                "(must match and include </s>)"
            )
    rnn = np.concatenate([np.asarray(a, dtype=np.float64) for a in rnn_log10])
    other = np.concatenate([np.asarray(b, dtype=np.float64) for b in other_probs])
    if np.isnan(rnn).any() or (rnn > 0).any():
        raise ValueError("RNN word log10 probabilities must be <= 0 and not NaN")
    if np.isnan(other).any() or (other < 0).any() or (other > 1).any():
        raise ValueError("other-LM word probabilities must lie in [0, 1]")
    with np.errstate(divide="ignore"):  # log(0) = -inf is the intended value
        ln_word = np.logaddexp(np.log(weight) + rnn * LN10, np.log1p(-weight) + np.log(other))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.add.reduceat(ln_word, starts) / LN10
