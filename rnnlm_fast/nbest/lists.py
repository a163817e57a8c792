"""The n-best data model: a hypothesis, an utterance's list, and the score keys readers use.

Every score held in memory is a NATURAL-LOG probability, higher is better. Each reader
converts from its file's convention and each writer converts back. Score keys:

``"am"`` (``AM``)
    acoustic or first-pass score (for ESPnet the beam-search total, for SRILM
    NBestList1.0 the composite recogniser score, as SRILM itself treats it).
``"lm"`` (``LM``)
    the first-pass language-model score, where the file has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["AM", "LM", "Hypothesis", "NbestList"]

AM = "am"
LM = "lm"


@dataclass
class Hypothesis:
    """One hypothesis of an n-best list.

    Attributes
    ----------
    text : str
        The words, separated by single spaces (may be empty).
    scores : dict[str, float]
        Named natural-log scores (higher is better), e.g. ``{"am": -8.75}``.
    rank : int
        1-based position in the first-pass list.
    """

    text: str
    scores: dict[str, float] = field(default_factory=dict)
    rank: int = 1

    @property
    def words(self) -> list[str]:
        """The hypothesis split into words."""
        return self.text.split()


@dataclass
class NbestList:
    """The hypotheses of one utterance, in rank order."""

    utt_id: str
    hyps: list[Hypothesis] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.hyps)

    def best(self) -> Hypothesis:
        """The first-pass 1-best: the hypothesis with the lowest rank."""
        if not self.hyps:
            raise ValueError(f"n-best list of {self.utt_id!r} is empty")
        return min(self.hyps, key=lambda h: h.rank)

    def ranked(self) -> list[Hypothesis]:
        """The hypotheses sorted by rank (the stored order is kept)."""
        return sorted(self.hyps, key=lambda h: h.rank)


def check_lists(lists: Sequence[NbestList]) -> None:
    """Raise ValueError if a list is empty or two lists share an utterance id."""
    seen = set()
    for nb in lists:
        if nb.utt_id in seen:
            raise ValueError(f"utterance {nb.utt_id!r} has two n-best lists")
        if not nb.hyps:
            raise ValueError(f"n-best list of {nb.utt_id!r} is empty")
        seen.add(nb.utt_id)
