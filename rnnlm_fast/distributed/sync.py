"""Combining the processes' weights every K words: plain model averaging, or block momentum
(BMUF: Chen and Huo, ICASSP 2016).

What each process changed since the last combination is marked by the engine as it writes
(``_core.UpdateMarks``): embedding rows, word classes (their rows of the word layer) and
64-float blocks of the hashed direct table; the dense arrays (recurrent matrix, hidden bias,
class layer) count as changed all over. The marks are OR-ed across processes (one small
Allreduce), so every process knows which blocks travel. A block nobody touched keeps its
value, which is already the same everywhere.

Averaging: the marked blocks of every process are packed into one buffer with the dense
arrays and summed in a single Allreduce; an array marked all over is summed in place by an
Allreduce of its own instead (no copies). Every process then holds the same average, bit for
bit (the sums come from the Allreduces; what follows is elementwise).

BMUF (``sync="bmuf"``, as fairseq's and Kaldi's implementations do it): with S the weights a
block started from and A the average of the processes' models after it, G = A - S; D = momentum
* D + block_lr * G; the global model is W = S + D, and the next block starts from W + momentum
* D (Nesterov). Momentum defaults to 1 - 1/processes. D starts at zero each epoch, and the last
block of an epoch ends at W (no look-ahead): the model validated is W. The step is taken on the
marked blocks only: a block no process changed keeps its weights and its momentum until one does
(as lazy optimisers treat embedding rows), so the rows of words and classes a block did not see
neither move nor travel, and the dense arrays, marked all over, take every step. Process r owns
the r-th of N slices of every array, cut so that each expects as many marked blocks (the
embedding's rows by their words' counts): the others send it their marked blocks there (pairwise
exchanges: a reduce-scatter), it sums them, takes the step in one C++ pass
(``_core.block_momentum_step``, or ``block_momentum_step_blocks`` on the marked blocks) and keeps
S and D for its slice only, and pairwise exchanges hand the new weights of its marked blocks to
everyone (an allgather). So each process computes 1/N of the step and holds 1/N of BMUF's state,
and all hold the same weights (each value comes from one process). The direct table, which can be
hundreds of MB, is averaged only (by the packed Allreduce).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _core
from ..options import DEFAULTS
from ..trainable import Trainable
from .mpi import mpi

DENSE = ("recurrent", "hidden_bias", "class_w", "class_b", "input_w")  # input_w: embedding models only

# (array name, block length, marked block indices; None: every block)
Part = tuple[str, int, Optional[np.ndarray]]


class WeightSync:
    """Combines ``model``'s weights across ``comm`` after each block of training; the engine
    marks its sparse writes in ``marks`` (cleared here after each combination)."""

    def __init__(self, model: Trainable, comm: Any, marks: Any, rule: str = "average",
                 momentum: Optional[float] = None, block_lr: float = DEFAULTS["block_lr"],
                 words_per_combination: Optional[int] = None):
        self.comm, self.marks = comm, marks
        self.size, self.rank = comm.Get_size(), comm.Get_rank()
        self.weights = model.weights()
        self.scale = np.float32(1.0 / self.size)
        self.map = marks.array()
        self.class_sizes = np.diff(model.vocab.class_begin).astype(np.int64)
        self.bmuf = rule == "bmuf" and self.size > 1  # one process: combining changes nothing
        self.momentum = np.float32(1.0 - 1.0 / self.size if momentum is None else momentum)
        self.block_lr = np.float32(block_lr)
        self.smooth = [k for k in self.weights if k != "direct"]
        # BMUF: each array's slice bounds in blocks (slice r: [bounds[r], bounds[r + 1])), and this
        # process's slice of the weights its block started from (S) and of the momentum (D)
        self.bounds = {k: self._slice_bounds(self._expected_marks(model, k, words_per_combination))
                       for k in self.smooth}
        self.start: dict[str, np.ndarray] = {}
        self.delta: dict[str, np.ndarray] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self.floats = 0  # floats summed by the last combination (docs/distributed.md's scale model)

    def _block_length(self, name: str) -> int:
        w = self.weights[name]
        return w.shape[1] if name in ("embed", "word_w") else 1

    def _expected_marks(self, model: Trainable, name: str, words: Optional[int]) -> np.ndarray:
        """How likely each block of ``name`` is to be marked by a combination of ``words`` words,
        in integers (the same on every machine): count x words / total words, capped at the total,
        for the rows of a word (embedding) or of its class (word layer); the same for every block
        of the dense arrays (marked all over). BMUF's work on a slice is its marked blocks, and the
        embedding's rows are sorted by frequency: equal row counts gave the first process twelve
        times the marked rows of the second (the book slice, 2 processes)."""
        blocks = self.weights[name].size // self._block_length(name)
        counts = np.asarray(model.vocab.counts, dtype=np.int64)
        total = int(counts.sum())
        if name not in ("embed", "word_w", "word_b") or not words or total <= 0 or counts.size != blocks:
            return np.ones(blocks, dtype=np.int64)
        if name != "embed":  # a class is marked as a whole: its words' counts summed
            begin = np.asarray(model.vocab.class_begin[:-1], dtype=np.int64)
            counts = np.repeat(np.add.reduceat(counts, begin), self.class_sizes)
        return np.minimum(counts * int(words), total)

    def _slice_bounds(self, weights: np.ndarray) -> np.ndarray:
        """Cuts the blocks into ``size`` slices of about equal total weight (equal block counts
        when the weights are equal)."""
        cumulative = np.concatenate([[0], np.cumsum(weights, dtype=np.int64)])
        targets = [int(cumulative[-1]) * r // self.size for r in range(self.size + 1)]
        bounds = np.searchsorted(cumulative, targets, side="left").astype(np.int64)
        bounds[-1] = len(weights)
        return bounds

    def _buffer(self, use: str, size: int) -> np.ndarray:
        """The scratch buffer for ``use`` (kept between combinations: no page faults each time)."""
        if use not in self._buffers or self._buffers[use].size < size:
            self._buffers[use] = np.empty(size, dtype=np.float32)
        return self._buffers[use][:size]

    def _partners(self) -> list[tuple[int, int]]:
        """The pairwise exchanges' schedule: in step s, send to rank + s and receive from rank - s."""
        return [((self.rank + s) % self.size, (self.rank - s) % self.size) for s in range(1, self.size)]

    def begin_epoch(self) -> None:
        """The weights now are the global model; no momentum yet; no marks."""
        self.marks.clear()
        if self.bmuf:
            for k in self.smooth:
                mine = self._own_slice(k)
                self.start[k] = mine.copy()
                self.delta[k] = np.zeros_like(mine)

    def _own_slice(self, name: str, rank: Optional[int] = None) -> np.ndarray:
        """The slice of ``name`` that ``rank`` (this process by default) owns: a flat view."""
        r = self.rank if rank is None else rank
        n, b = self._block_length(name), self.bounds[name]
        return self.weights[name].reshape(-1)[b[r] * n:b[r + 1] * n]

    def _marked_parts(self) -> list[Part]:
        V, C = self.marks.embed_rows, self.marks.classes
        rows = np.flatnonzero(self.map[:V]).astype(np.int64)
        words = np.flatnonzero(np.repeat(self.map[V:V + C], self.class_sizes)).astype(np.int64)
        parts: list[Part] = [(k, 1, None) for k in DENSE if k in self.weights]
        parts += [("embed", self._block_length("embed"), rows),
                  ("word_w", self._block_length("word_w"), words), ("word_b", 1, words)]
        if "direct" in self.weights:
            parts.append(("direct", _core.DIRECT_BLOCK, np.flatnonzero(self.map[V + C:]).astype(np.int64)))
        return parts

    def combine(self, last: bool = False) -> None:
        """Average the weights across processes (then BMUF's step, ending at the global model
        without look-ahead when ``last``); clears the marks."""
        self.comm.Allreduce(mpi().IN_PLACE, self.map, op=mpi().BOR)
        parts = self._marked_parts()
        if self.bmuf:
            self._average([p for p in parts if p[0] not in self.smooth])
            self._block_momentum([p for p in parts if p[0] in self.smooth], last)
        else:
            self._average(parts)
        self.floats = sum(self.weights[k].size if idx is None else min(n * len(idx), self.weights[k].size)
                          for k, n, idx in parts)
        self.marks.clear()

    def _average(self, parts: list[Part]) -> None:
        """The packed Allreduce (see the module's docstring)."""
        MPI, w = mpi(), self.weights
        # An array changed everywhere (PTB's word layer after 10k words) is summed in place by an
        # Allreduce of its own, with no copies; the dense arrays and the marked blocks of the
        # others are packed into one buffer.
        whole = [k for k, n, idx in parts if idx is not None and len(idx) == -(-w[k].size // n)]
        packed = [(k, n, idx) for k, n, idx in parts if k not in whole]
        sizes = [w[k].size if idx is None else n * len(idx) for k, n, idx in packed]
        buf = self._buffer("sum", int(sum(sizes)))
        at = 0
        for (k, n, idx), size in zip(packed, sizes):
            if idx is None:
                buf[at:at + size] = w[k].reshape(-1)
            elif size:
                _core.pack_blocks(w[k], n, idx, buf[at:at + size])
            at += size
        self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        for k in whole:
            self.comm.Allreduce(MPI.IN_PLACE, w[k].reshape(-1), op=MPI.SUM)
        at = 0
        for (k, n, idx), size in zip(packed, sizes):
            if idx is None:
                np.multiply(buf[at:at + size], self.scale, out=w[k].reshape(-1))
            elif size:
                _core.unpack_blocks(w[k], n, idx, buf[at:at + size], float(self.scale))
            at += size
        if self.size > 1:  # (one process: the sum is the value)
            for k in whole:
                w[k] *= self.scale

    def _in_slice(self, name: str, idx: Optional[np.ndarray], rank: int) -> Optional[np.ndarray]:
        """The marked blocks of ``rank``'s slice, numbered from the slice's start (None: all)."""
        if idx is None:
            return None
        lo, hi = self.bounds[name][rank], self.bounds[name][rank + 1]
        a, b = np.searchsorted(idx, [lo, hi])
        return None if b - a == hi - lo else idx[a:b] - lo

    def _block_momentum(self, parts: list[Part], last: bool) -> None:
        """BMUF's step over owned slices (see the module's docstring)."""
        partners = self._partners()
        results = []  # per array, what this process hands out: its slice, or its marked blocks packed
        in_slices = []  # per array, the marked blocks of every process's slice (None: all of it)
        for k, n, idx in parts:
            marked = [self._in_slice(k, idx, r) for r in range(self.size)]
            in_slices.append(marked)
            mine = self._own_slice(k)
            own = marked[self.rank]
            # the sum of the slice: in place when every block of it is marked, else of the marked blocks
            total = mine if own is None else self._buffer(f"sum of {k}", n * len(own))
            if own is not None and total.size:
                _core.pack_blocks(mine, n, own, total)
            received = self._buffer("received", total.size)
            for step, (to, source) in enumerate(partners, 1):
                theirs = marked[to]
                send = self._own_slice(k, to)
                if theirs is not None:
                    packed = self._buffer("send", n * len(theirs))
                    if packed.size:
                        _core.pack_blocks(send, n, theirs, packed)
                    send = packed
                self.comm.Sendrecv(send, dest=to, recvbuf=received, source=source)
                if own is not None or step < len(partners):
                    total += received
            if own is None:  # the last term of the sum and the scale are added in the step: a pass less
                _core.block_momentum_step(mine, self.start[k], self.delta[k], float(self.momentum),
                                          float(self.block_lr), not last, float(self.scale), received)
            elif total.size:  # the new weights go into the slice and over the sums, to be handed out
                _core.block_momentum_step_blocks(mine, self.start[k], self.delta[k], n, own, total,
                                                 float(self.scale), float(self.momentum),
                                                 float(self.block_lr), not last)
            results.append(total)
        # every slice's new weights to everyone (pairwise: MPICH's Allgatherv took twice as long)
        for to, source in partners:
            for (k, n, _), out, marked in zip(parts, results, in_slices):
                theirs = marked[source]
                if theirs is None:
                    self.comm.Sendrecv(out, dest=to, recvbuf=self._own_slice(k, source), source=source)
                    continue
                got = self._buffer("received", n * len(theirs))
                self.comm.Sendrecv(out, dest=to, recvbuf=got, source=source)
                if got.size:
                    _core.unpack_blocks(self._own_slice(k, source), n, theirs, got, 1.0)
