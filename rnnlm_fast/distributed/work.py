"""One process's work in an epoch of distributed training: its shard of the text, and the
pieces of other processes' shards it takes over at the end of the epoch.

With blocks that end by time, every process trains for the same time per block, so a process
whose shard is slower to train (longer target classes, a busier core) would still be busy when
the others are done, and they would wait for it. Instead, when some processes are done and
others are not, the busy ones offer the later half (whole sentences) of their longest stream,
and each idle process takes the largest offer worth a block's time. Everyone decides from the
same gathered offers, so the decision needs no leader, and every line is still trained once.
A piece taken over starts a new stream (zero hidden state), as a thread's shard does.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .. import _core
from ..encoding import Encoded


def shard(enc: Encoded, first: int, last: int) -> Encoded:
    """Sentences [first, last) of a text, as a text of their own (copies)."""
    a, b = int(enc.offsets[first]), int(enc.offsets[last])
    return Encoded(enc.ids[a:b].copy(), (enc.offsets[first:last + 1] - a).astype(np.int64), int((enc.ids[a:b] < 0).sum()),
                   enc.mapped[a:b].copy())


class EpochWork:
    """This process's runs in one epoch: the first over its shard, then one per piece taken
    over. Totals (log-probability, words, positions) are summed over them; sentences and
    positions are counted in the whole text."""

    def __init__(self, model: Any, text: Encoded, first: int, last: int, engine: Any, marks: Any,
                 part: Optional[Encoded] = None):
        """Sentences [first, last) of ``text`` (``part``: them, already cut out)."""
        self.model, self.text, self.engine, self.marks = model, text, engine, marks
        self.runs: list[tuple[Any, int, int]] = []  # (EpochRun, its first sentence, its first position)
        self.before = {"logprob": 0.0, "words": 0, "processed": 0}  # totals of the finished runs
        self.current: dict[str, Any] = {"logprob": 0.0, "words": 0, "processed": 0, "diverged": False,
                                        "diverged_at": -1, "interrupted": False}
        self.taken = 0  # positions taken over from others
        self._start(first, last, part)

    def _start(self, first: int, last: int, part: Optional[Encoded] = None) -> None:
        part = shard(self.text, first, last) if part is None else part
        run = _core.EpochRun(self.model._core, part.mapped, part.offsets, self.engine, self.marks)
        self.runs.append((run, first, int(self.text.offsets[first])))
        self.part = part  # the run reads it
        self.run_positions = len(part.mapped)  # less what it gives away
    @property
    def run(self) -> Any:
        return self.runs[-1][0]

    @property
    def finished(self) -> bool:
        return self.run.finished

    def train(self, part: Optional[tuple[int, int]], seconds: Optional[float],
              progress: Optional[Callable[[int, float], bool]]) -> None:
        """Part ``part = (part, parts)`` of the current run, or ``seconds`` of it."""
        offset = self.before["processed"]
        report = None if progress is None else (lambda done, lp: progress(offset + done, self.before["logprob"] + lp))
        self.current = self.run.run(*part, report) if part is not None else self.run.run_for(seconds, report)

    @property
    def left(self) -> int:
        """Positions left to train."""
        return 0 if self.finished else self.run_positions - self.current["processed"]

    def totals(self) -> dict[str, Any]:
        """The epoch's totals so far; ``diverged_at`` as a position of the whole text (-1: none)."""
        t = {k: self.before[k] + self.current[k] for k in ("logprob", "words", "processed")}
        at = self.current["diverged_at"]
        t.update(diverged=self.current["diverged"], interrupted=self.current["interrupted"],
                 diverged_at=at + self.runs[-1][2] if at >= 0 else -1)
        return t

    def offer(self) -> tuple[int, int, int, int]:
        """(stream, first, last, positions) of the tail this process could give away, sentences
        of the whole text; positions 0 when none."""
        if self.finished:
            return (-1, 0, 0, 0)
        stream, first, last, positions = self.run.tail()
        if stream < 0:
            return (-1, 0, 0, 0)
        base = self.runs[-1][1]
        return (stream, first + base, last + base, positions)

    def give_away(self, offer: tuple[int, int, int, int]) -> None:
        stream, first, last, positions = offer
        base = self.runs[-1][1]
        self.run.give_away(stream, first - base, last - base, positions)
        self.run_positions -= positions

    def take_over(self, offer: tuple[int, int, int, int]) -> None:
        """Start training sentences [first, last) of the whole text (this process is done)."""
        for k in ("logprob", "words", "processed"):
            self.before[k] += self.current[k]
        self.current = dict(self.current, logprob=0.0, words=0, processed=0)
        self.taken += offer[3]
        self._start(offer[1], offer[2])


# What each process reports after a block (one row each, gathered by all): whether it
# diverged, was interrupted, is not done, positions trained in the block, seconds they took,
# positions left.
DIVERGED, INTERRUPTED, BUSY, TRAINED, SECONDS, LEFT = range(6)


def block_report(work: EpochWork, trained: int, seconds: float) -> np.ndarray:
    t = work.totals()
    return np.array([t["diverged"], t["interrupted"], not work.finished, trained, seconds, work.left],
                    dtype=np.float64)


def next_block_seconds(reports: np.ndarray, sync_words: int) -> Optional[float]:
    """How long the next block trains: the time K words took at the processes' mean speed in
    the last block, cut short to when the first busy process should be done (with 10% to
    spare; no shorter than a tenth of a block), so that none sits idle long before work is
    handed over. None when nobody trained."""
    trained = reports[:, TRAINED]
    if trained.sum() <= 0:
        return None
    seconds = sync_words * reports[:, SECONDS].sum() / trained.sum()
    busy = (reports[:, BUSY] > 0) & (trained > 0)
    if busy.any():
        done_in = (reports[busy, LEFT] * reports[busy, SECONDS] / trained[busy]).min() * 1.1
        seconds = max(min(seconds, done_in), seconds / 10)
    return float(seconds)


def match(offers: list[tuple[int, int, int, int]], idle: list[bool], least: int) -> list[tuple[int, int]]:
    """(giver, taker) pairs: idle processes in rank order take the largest offers (ties: lower
    rank) of at least ``least`` positions, one offer each."""
    ranked = sorted((r for r, o in enumerate(offers) if not idle[r] and o[3] >= least),
                    key=lambda r: (-offers[r][3], r))
    takers = [r for r, done in enumerate(idle) if done]
    return list(zip(ranked, takers))
