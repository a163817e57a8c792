"""What ``rnnlm-fast rescore`` checks before any scoring (output paths: rnnlm_fast._files): references against
lists, the scores rescoring needs, and the hypotheses' share of words outside the model.

Each check raises one of the package's errors with a one-line message naming the files, so
the command line exits 2 in seconds instead of failing after minutes of scoring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rnnlm_fast.encoding import case_mapping, sample_words
from rnnlm_fast.encoding import check_oov_rate as encoding_check_oov_rate
from rnnlm_fast.errors import NbestFormatError

from .lists import NbestList

if TYPE_CHECKING:
    from rnnlm_fast.model import RNNLM

__all__ = ["check_oov_rate", "check_refs_match", "check_scores"]

_SHOWN = 5  # ids named in a mismatch message


def _first(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_SHOWN])
    return shown + (", ..." if len(ids) > _SHOWN else "")


def check_refs_match(lists: Sequence[NbestList], refs: Mapping[str, str], nbest_path: str | Path,
                     refs_path: str | Path) -> None:
    """Raise NbestFormatError unless the lists and the references have the same utterance ids;
    the message counts and names (the first few, in file order) the ids missing on each side."""
    in_lists = {nb.utt_id for nb in lists}
    no_ref = [nb.utt_id for nb in lists if nb.utt_id not in refs]
    no_list = [u for u in refs if u not in in_lists]
    if not no_ref and not no_list:
        return
    parts = []
    if no_ref:
        parts.append(f"{len(no_ref)} utterance(s) of the n-best lists {nbest_path} have no reference "
                     f"({_first(no_ref)})")
    if no_list:
        parts.append(f"{len(no_list)} reference(s) in {refs_path} have no n-best list ({_first(no_list)})")
    raise NbestFormatError(f"references {refs_path} do not match the n-best lists {nbest_path}: "
                           + "; ".join(parts))


def check_scores(lists: Sequence[NbestList], path: str | Path, format: str, am_key: str,
                 old_lm_key: str | None = None) -> None:
    """Raise NbestFormatError unless every hypothesis has the first-pass score ``am_key`` and,
    when given, the first-pass LM score ``old_lm_key`` (``--old-lm-key``). A file read as
    rnnlm-0.4b text (which has no scores) with one hypothesis per utterance is called what it
    most likely is: a 1-best ``text`` file."""
    if not lists:
        raise NbestFormatError(f"{path}: no n-best lists")
    if format == "rnnlm":
        if all(len(nb.hyps) == 1 for nb in lists):
            raise NbestFormatError(
                f"{path}: this looks like a 1-best text file (one hypothesis per utterance, no scores), "
                "not n-best lists; rescoring needs several scored hypotheses per utterance "
                "(Kaldi, ESPnet, SRILM or TSV n-best lists)")
        raise NbestFormatError(
            f"{path}: read as rnnlm-0.4b n-best text, which has no first-pass (acoustic) scores; rescoring "
            "needs them (Kaldi, ESPnet, SRILM or TSV n-best lists; --format names the format)")
    wanted = [(am_key, "first-pass")] + ([(old_lm_key, f"--old-lm-key {old_lm_key}")] if old_lm_key else [])
    for key, why in wanted:
        for nb in lists:
            for h in nb.hyps:
                if key not in h.scores:
                    have = ", ".join(sorted(h.scores)) or "none"
                    raise NbestFormatError(f"{path}: hypothesis {h.rank} of {nb.utt_id!r} has no {key!r} "
                                           f"score ({why}); its scores: {have}")


def check_oov_rate(model: RNNLM, lists: Sequence[NbestList], case: str, max_oov_rate: float,
                   what: str) -> tuple[float, int, int]:
    """The share of the hypotheses' words outside ``model``'s vocabulary (after ``case``), as
    ``encoding.check_oov_rate`` judges it: above ``max_oov_rate`` an OovError, above 5% an
    OovWarning, each naming the case mapping that would fix a case mismatch.

    Returns
    -------
    rate : float
        Unknown words / words (``</s>`` not counted).
    words : int
        Words of every hypothesis, ``</s>`` not counted.
    positions : int
        Positions each model scores: the words and one ``</s>`` per hypothesis.
    """
    fix = case_mapping(case)
    sentences = [fix(h.text) for nb in lists for h in nb.hyps]
    enc = model.encode_sentences(sentences)
    rate = encoding_check_oov_rate(model.vocab, enc, max_oov_rate, case=case,
                                   words=lambda: sample_words(sentences), what=f"the hypotheses of {what}",
                                   stacklevel=2)
    return rate, len(enc.ids) - enc.sentences, len(enc.ids)
