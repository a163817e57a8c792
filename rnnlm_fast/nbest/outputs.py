"""The rescored lists in every n-best format (``rnnlm-fast rescore --output-nbest --output-format``).

TSV keeps every feature as a column (the first-pass scores, each LM score, ``n_words``,
``n_oov``, ``total``) with the first-pass ranks. The other formats hold one or two scores,
so each writes the rescored decision in its own terms, hypotheses renumbered in the
rescored order (rank 1 = the new 1-best):

- ``kaldi``: ``acwt`` the first-pass acoustic cost (unchanged), ``lmwt`` the cost of all the
  rest of the combined score (``-(total - am)``), so ``acwt + lmwt = -total``;
- ``srilm`` (plain ``ascore lscore nwords words``, log10): ``am`` and ``total - am``, so an
  SRILM combination with LM weight 1 and word weight 0 gives ``total``;
- ``espnet``: ``score`` = ``total`` (ESPnet's score is the combined beam score), and
  ``1best_recog`` (and the set's merged ``text``) is the new 1-best;
- ``rnnlm``: the texts only, in the rescored order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .combine import Weights
from .formats import FORMATS, write_nbest
from .lists import AM, LM, Hypothesis, NbestList
from .scoring import rescored_lists

__all__ = ["OUTPUT_FORMATS", "rescored_in_order", "write_rescored"]

OUTPUT_FORMATS = ("tsv", *(f for f in FORMATS if f != "tsv"))  # tsv first: the default


def rescored_in_order(rescored: Sequence[NbestList], format: str, am_key: str = AM) -> list[NbestList]:
    """``rescored_lists``' output renumbered by ``total`` (best first, ties kept in first-pass
    order), with the scores the format ``format`` (not tsv) writes, as the module says."""
    out = []
    for nb in rescored:
        ranked = sorted(nb.ranked(), key=lambda h: -h.scores["total"])  # stable: ties keep rank order
        hyps = []
        for rank, h in enumerate(ranked, 1):
            am, total = h.scores[am_key], h.scores["total"]
            scores = {AM: total} if format == "espnet" else {AM: am, LM: total - am}
            hyps.append(Hypothesis(h.text, scores, rank))
        out.append(NbestList(nb.utt_id, hyps))
    return out


def write_rescored(
    path: str | Path,
    lists: Sequence[NbestList],
    lm_scores: np.ndarray,
    weights: Weights,
    format: str = "tsv",
    *,
    am_key: str = AM,
    old_lm_key: str | None = None,
    n_oov: np.ndarray | None = None,
    ngram_key: str | None = None,
) -> None:
    """Write the rescored lists in one of ``OUTPUT_FORMATS`` (see the module docstring).

    Parameters
    ----------
    path : str or Path
        A file for tsv and rnnlm; a directory (created if needed) for kaldi, espnet, srilm.
    lists, lm_scores, weights, am_key, old_lm_key, n_oov, ngram_key
        As ``rescored_lists``.
    format : {"tsv", "kaldi", "espnet", "srilm", "rnnlm"}
        The output format.

    Raises
    ------
    ValueError
        On an unknown format, or what ``rescored_lists`` and the writer refuse.
    """
    if format not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {format!r}; expected one of {OUTPUT_FORMATS}")
    rescored = rescored_lists(lists, lm_scores, weights, am_key=am_key, old_lm_key=old_lm_key, n_oov=n_oov,
                              ngram_key=ngram_key)
    if format == "tsv":
        write_nbest(path, rescored, "tsv")
    else:
        write_nbest(path, rescored_in_order(rescored, format, am_key), format)
