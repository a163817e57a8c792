"""Word error rates: per-hypothesis edit counts (one batched jiwer call), corpus WER/SER, oracle WER."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from .lists import NbestList, check_lists

__all__ = ["SENTENCE_MARKS", "count_words", "hypothesis_errors", "oracle_wer", "word_error_rate"]

SENTENCE_MARKS = frozenset({"<s>", "</s>"})


def count_words(text: str) -> int:
    """Number of words in ``text``, not counting ``<s>`` and ``</s>``."""
    return sum(1 for w in text.split() if w not in SENTENCE_MARKS)


def require_jiwer():
    """The jiwer module, which word error rates need; an optional dependency (the ``rescore``
    extra), imported here so that scoring and reading formats do not need it. Raises ConfigError."""
    try:
        import jiwer
    except ImportError:
        raise ConfigError("word error rates need the jiwer package: install rnnlm-fast[rescore] "
                          "(pip install 'rnnlm-fast[rescore]')") from None
    return jiwer


def edit_counts(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    """(n, 3) int64 substitutions, deletions, insertions of each (ref, hyp) pair."""
    jiwer = require_jiwer()

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
    return edit_counts(refs, hyps).sum(axis=1)


def check_same_utts(refs: Mapping[str, str], utts: Sequence[str] | set[str], what: str) -> None:
    """Raise ValueError unless ``utts`` are exactly the references' utterance ids."""
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
    check_same_utts(refs, list(hyps), "hypotheses")
    utts = list(refs)
    counts = edit_counts([refs[u] for u in utts], [hyps[u] for u in utts])
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

    Raises
    ------
    ValueError
        If ``n`` < 1, a list is empty or repeated, or the utterance ids differ from ``refs``.
    """
    if n is not None and n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    check_lists(lists)
    check_same_utts(refs, [nb.utt_id for nb in lists], "n-best lists")
    pairs = [(nb.utt_id, h) for nb in lists for h in nb.ranked()[:n]]
    errors = hypothesis_errors([refs[u] for u, _ in pairs], [h.text for _, h in pairs])
    choice: dict[str, tuple[int, str]] = {}
    for (utt, hyp), e in zip(pairs, errors):
        if utt not in choice or e < choice[utt][0]:  # strict: earlier rank wins ties
            choice[utt] = (int(e), hyp.text)
    result = word_error_rate(refs, {u: t for u, (_, t) in choice.items()})
    result["n"] = n
    return result
