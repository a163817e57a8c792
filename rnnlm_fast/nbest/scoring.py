"""LM scores of n-best lists and rescoring with them.

LM scores (``lm_log_probs``, ``score_lists`` with an RNNLM, log-linear mixtures of several
models; per-word interpolation with another LM is rnnlm_fast.ngram's), OOV counts, then ``rescore``: each
utterance's new 1-best by the combined score of ``tune``, and the writers of the rescored
output. The scorers return log10; everything here is converted to NATURAL logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rnnlm_fast.encoding import case_mapping
from rnnlm_fast.errors import ConfigError
from rnnlm_fast.options import DEFAULTS
from rnnlm_fast.units import LN10

from .combine import Weights, build_features, select_best
from .formats import read_nbest
from .lists import AM, Hypothesis, NbestList
from .text import write_text
from .tsv import write_tsv_nbest
from .wer import oracle_wer, word_error_rate

if TYPE_CHECKING:
    from rnnlm_fast.model import RNNLM

__all__ = [
    "SECOND_LM_KEY",
    "ScoreFn",
    "lm_log_probs",
    "mix_scores",
    "mixture_weights",
    "oov_counts",
    "read_and_score",
    "rescore",
    "rescored_lists",
    "score_lists",
    "score_models",
    "write_one_best",
    "write_rescored_tsv",
]

ScoreFn = Callable[[list[str]], np.ndarray]
SECOND_LM_KEY = "lm2"  # the score name of a second model's score (the free ``mu`` feature)


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


def score_lists(
    model: RNNLM,
    lists: Sequence[NbestList],
    *,
    case: str = DEFAULTS["case"],
    oov: str = DEFAULTS["oov"],
    oov_penalty: float = DEFAULTS["oov_penalty"],
    carry_state: bool = DEFAULTS["carry_state"],
    threads: int = DEFAULTS["threads"],
    progress: bool = False,
    max_oov_rate: float = DEFAULTS["max_oov_rate"],
) -> np.ndarray:
    """Natural-log RNNLM probability of every hypothesis, in list order, one batched call.

    ``case`` ("keep", "upper", "lower") maps the hypotheses to the model's case; the
    other options are ``RNNLM.score``'s (``carry_state`` is ``independent=False``;
    ``max_oov_rate`` judges all the hypotheses together).

    Raises
    ------
    ConfigError
        On an unknown ``case``, or what ``RNNLM.score`` refuses.
    """
    fix = case_mapping(case)

    def score_fn(sentences: list[str]) -> np.ndarray:
        return model.score(
            [fix(s) for s in sentences],
            independent=not carry_state,
            oov=oov,
            oov_penalty=oov_penalty,
            threads=threads,
            progress=progress,
            max_oov_rate=max_oov_rate,
        )

    return lm_log_probs(lists, score_fn)


def oov_counts(model: RNNLM, lists: Sequence[NbestList], *, case: str = DEFAULTS["case"]) -> np.ndarray:
    """Number of words outside the model's vocabulary in every hypothesis, in list order.

    One batched encoding call; ``case`` maps the words as ``score_lists`` does.
    """
    fix = case_mapping(case)
    sentences = [fix(h.text) for nb in lists for h in nb.hyps]
    if not sentences:
        return np.zeros(0)
    enc = model.encode_sentences(sentences)
    unknown = np.concatenate([(enc.ids < 0).astype(np.float64), [0.0]])
    # offsets[i]..offsets[i+1] spans sentence i (its </s> included, never unknown); the
    # padding element keeps reduceat defined for a last sentence that is only </s>.
    return np.add.reduceat(unknown, enc.offsets[:-1])


def mixture_weights(text: str | None, n_models: int) -> np.ndarray:
    """Parse ``--mix-weights`` for ``n_models`` models (equal weights when ``text`` is None).

    Raises
    ------
    ConfigError
        Unless ``text`` is ``n_models`` comma-separated non-negative numbers summing to 1.
    """
    if text is None:
        return np.full(n_models, 1.0 / n_models)
    try:
        weights = np.array([float(w) for w in text.split(",")])
    except ValueError:
        raise ConfigError(f"--mix-weights must be comma-separated numbers, not {text!r}") from None
    if len(weights) != n_models:
        raise ConfigError(
            f"--mix-weights gives {len(weights)} weights for {n_models} models "
            "(--model and each --mix-model, in that order)"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-6:
        raise ConfigError(f"--mix-weights must be non-negative and sum to 1, not {text!r}")
    return weights


def mix_scores(scores: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Log-linear mixture of several models' natural-log scores of the same hypotheses."""
    return np.sum([w * s for w, s in zip(weights.tolist(), scores)], axis=0)


def attach_scores(lists: Sequence[NbestList], key: str, values: np.ndarray) -> None:
    """Store one score per hypothesis (flat list order) as ``scores[key]``."""
    for h, value in zip((h for nb in lists for h in nb.hyps), values.tolist()):
        h.scores[key] = value


def read_and_score(
    path: str | Path,
    format: str | None,
    models: Sequence[RNNLM],
    mix: np.ndarray,
    mu_model: RNNLM | None,
    **options,
) -> tuple[list[NbestList], np.ndarray, float]:
    """Read n-best lists and score them with every model.

    With several ``models`` the LM score is their mixture with weights ``mix``, and each
    model's own score is kept in the hypotheses' scores as ``lm1``, ``lm2``, ... in the
    models' order. ``mu_model``'s score (the free ``mu`` feature) is kept as ``lm2``
    (``SECOND_LM_KEY``). ``options`` are ``score_lists``'s.

    Returns
    -------
    lists : list[NbestList]
    lm : np.ndarray
        Natural-log LM score per hypothesis, in flat order.
    seconds : float
        The scoring time.
    """
    lists = read_nbest(path, format)
    lm, seconds = score_models(lists, models, mix, mu_model, **options)
    return lists, lm, seconds


def score_models(
    lists: Sequence[NbestList],
    models: Sequence[RNNLM],
    mix: np.ndarray,
    mu_model: RNNLM | None,
    **options,
) -> tuple[np.ndarray, float]:
    """Score read lists with every model (``read_and_score`` without the reading).

    Returns the natural-log LM score per hypothesis (the mixture of ``models`` with weights
    ``mix``; each model's own score kept as ``lm1``, ``lm2``, ... when there are several;
    ``mu_model``'s as ``lm2``) and the scoring time in seconds.
    """
    start = time.perf_counter()
    scores = [score_lists(m, lists, **options) for m in models]
    mu_scores = score_lists(mu_model, lists, **options) if mu_model is not None else None
    seconds = time.perf_counter() - start
    lm = scores[0]
    if len(scores) > 1:
        for i, values in enumerate(scores, 1):
            attach_scores(lists, f"lm{i}", values)
        lm = mix_scores(scores, mix)
    if mu_scores is not None:
        attach_scores(lists, SECOND_LM_KEY, mu_scores)
    return lm, seconds


# --------------------------------------------------------------------------- rescoring


def rescore(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    weights: Weights,
    refs: Mapping[str, str] | None = None,
    *,
    am_key: str = AM,
    old_lm_key: str | None = None,
    n_oov: np.ndarray | None = None,
    ngram_key: str | None = None,
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
    ngram_key : str, optional
        Score name of an n-gram LM's score (needed when ``weights.ngram`` is non-zero).

    Returns
    -------
    one_best : dict[str, str]
        Utterance id -> new 1-best text, in list order.
    report : dict
        ``weights`` (``lam``, ``word_bonus``, ``mu``, ``gamma``), ``utterances``,
        ``hypotheses``, ``changed`` (utterances whose 1-best changed) and, with ``refs``:
        ``wer_before``, ``ser_before``, ``wer_after``, ``ser_after``, ``oracle_wer``
        (fractions), ``ref_words``, and ``scoring``: ``word_error_rate``'s dict (error,
        substitution, deletion and insertion counts included) under ``"before"``,
        ``"after"`` and ``"oracle"``.

    Raises
    ------
    ValueError
        As ``build_features`` and ``combine_scores``; with ``refs``, as ``word_error_rate``.
    """
    features = build_features(lists, lm_scores, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov,
                              ngram_key=ngram_key)
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
        oracle = oracle_wer(lists, refs)
        report.update(
            wer_before=wer_before["wer"],
            ser_before=wer_before["ser"],
            wer_after=wer_after["wer"],
            ser_after=wer_after["ser"],
            oracle_wer=oracle["wer"],
            ref_words=wer_after["ref_words"],
            scoring={"before": wer_before, "after": wer_after, "oracle": oracle},
        )
    return one_best, report


def rescored_lists(
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    weights: Weights,
    *,
    am_key: str = AM,
    old_lm_key: str | None = None,
    lm_name: str = "rnnlm_ln",
    n_oov: np.ndarray | None = None,
    ngram_key: str | None = None,
) -> list[NbestList]:
    """Copies of ``lists`` with every feature of the combined score and the ``"total"`` added.

    Each hypothesis keeps its scores and gains ``lm_name`` (the new LM score, natural log: the column is
    named for its unit), ``"n_words"`` (words without sentence marks), ``"n_oov"`` (when ``n_oov`` is
    given) and ``"total"``, so that ``total = am + lam * rnnlm_ln + mu * old_lm + word_bonus * n_words +
    gamma * n_oov + ngram * ngram_ln`` can be recomputed from the columns and the weights (the n-gram's
    column, ``ngram_key``, is among the kept scores). Ranks stay the first-pass ranks; sort by
    ``scores["total"]`` for the new order.
    """
    features = build_features(lists, lm_scores, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov,
                              ngram_key=ngram_key)
    totals = features.totals(weights)
    out, i = [], 0
    for nb in lists:
        hyps = []
        for h in nb.hyps:
            scores = {**h.scores, lm_name: float(features.lm[i]), "n_words": float(features.n_words[i])}
            if features.n_oov is not None:
                scores["n_oov"] = float(features.n_oov[i])
            scores["total"] = float(totals[i])
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
    am_key: str = AM,
    old_lm_key: str | None = None,
    n_oov: np.ndarray | None = None,
) -> None:
    """Write the full lists with their new scores as TSV (``rescored_lists`` in the TSV format):
    the first-pass scores, the LM score(s), ``n_words``, ``n_oov`` (when given) and ``total``."""
    write_tsv_nbest(
        path, rescored_lists(lists, lm_scores, weights, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov)
    )
