"""Combining the processes' weights every K words: plain model averaging, or block momentum
(BMUF: Chen and Huo, ICASSP 2016).

Dense arrays (recurrent matrix, hidden bias, class layer) are summed with one Allreduce. The
sparsely written ones travel only where some process changed them since the last combination:
the engine marks embedding rows, word classes (their rows of the word layer) and 64-float
blocks of the hashed direct table as it writes them (``_core.UpdateMarks``); the marks are
OR-ed across processes (one small Allreduce), and the marked blocks of every process are packed
into one buffer with the dense arrays and summed in a single Allreduce; an array marked all
over is summed in place by an Allreduce of its own instead (no copies). Every process then
holds the same average, bit for bit (the sums come from the Allreduces; what follows is
elementwise), and a block nobody touched keeps its value, which is already the same everywhere.

BMUF (``sync="bmuf"``, as fairseq's and Kaldi's implementations do it): with S the weights a
block started from and A the average of the processes' models after it, G = A - S; D = momentum
* D + block_lr * G; the global model is W = S + D, and the next block starts from W + momentum
* D (Nesterov). Momentum defaults to 1 - 1/processes. The direct table is averaged only (block
momentum would need two more copies of a table of hundreds of MB). D starts at zero each epoch,
and the last block of an epoch ends at W (no look-ahead): the model validated is W. The step is
one pass in C++ per array (``_core.block_momentum_step``).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _core
from .mpi import mpi

DENSE = ("recurrent", "hidden_bias", "class_w", "class_b")


class WeightSync:
    """Combines ``model``'s weights across ``comm`` after each block of training; the engine
    marks its sparse writes in ``marks`` (cleared here after each combination)."""

    def __init__(self, model: Any, comm: Any, marks: Any, rule: str = "average", momentum: Optional[float] = None,
                 block_lr: float = 1.0):
        self.comm, self.marks = comm, marks
        self.size = comm.Get_size()
        self.weights = model.weights()
        self.scale = np.float32(1.0 / self.size)
        self.map = marks.array()
        self.class_sizes = np.diff(model.vocab.class_begin).astype(np.int64)
        self.bmuf = rule == "bmuf" and self.size > 1  # one process: combining changes nothing
        self.momentum = np.float32(1.0 - 1.0 / self.size if momentum is None else momentum)
        self.block_lr = np.float32(block_lr)
        self.smooth = [k for k in self.weights if k != "direct"]
        self.start: dict[str, np.ndarray] = {}  # BMUF: the weights the block started from
        self.delta: dict[str, np.ndarray] = {}
        self._buffer = np.zeros(0, dtype=np.float32)
        self.floats = 0  # floats summed by the last combination (for the scale model in README)

    def begin_epoch(self) -> None:
        """The weights now are the global model; no momentum yet; no marks."""
        self.marks.clear()
        if self.bmuf:
            for k in self.smooth:
                self.start[k] = self.weights[k].copy()
                self.delta[k] = np.zeros_like(self.weights[k])

    def combine(self, last: bool = False) -> None:
        """Average the weights across processes (then BMUF's step, ending at the global model
        without look-ahead when ``last``); clears the marks."""
        MPI = mpi()
        self.comm.Allreduce(MPI.IN_PLACE, self.map, op=MPI.BOR)
        w = self.weights
        V, C = self.marks.embed_rows, self.marks.classes
        rows = np.flatnonzero(self.map[:V]).astype(np.int64)
        words = np.flatnonzero(np.repeat(self.map[V:V + C], self.class_sizes)).astype(np.int64)
        blocks = np.flatnonzero(self.map[V + C:]).astype(np.int64)
        # (name, block length, block indices; None: the whole array)
        parts: list[tuple[str, int, Optional[np.ndarray]]] = [(k, w[k].size, None) for k in DENSE]
        parts += [("embed", w["embed"].shape[1], rows), ("word_w", w["word_w"].shape[1], words),
                  ("word_b", 1, words)]
        if "direct" in w:
            parts.append(("direct", _core.DIRECT_BLOCK, blocks))
        # An array changed everywhere (PTB's word layer after 10k words) is summed in place by an
        # Allreduce of its own, with no copies; the dense arrays and the marked blocks of the
        # others are packed into one buffer.
        whole = [k for k, n, idx in parts if idx is not None and len(idx) == -(-w[k].size // n)]
        packed = [(k, n, idx) for k, n, idx in parts if k not in whole]
        sizes = [n if idx is None else n * len(idx) for _, n, idx in packed]
        total = int(sum(sizes))
        if self._buffer.size < total:
            self._buffer = np.empty(total, dtype=np.float32)
        buf = self._buffer[:total]
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
        unscaled = {}  # summed in place, scaled by BMUF's step (one pass less)
        for k in whole:
            if self.bmuf and k in self.smooth:
                unscaled[k] = float(self.scale)
            elif self.size > 1:  # (one process: the sum is the value)
                w[k] *= self.scale
        self.floats = total + sum(w[k].size for k in whole)
        self.marks.clear()
        if self.bmuf:
            self._block_momentum(last, unscaled)

    def _block_momentum(self, last: bool, unscaled: dict[str, float]) -> None:
        for k in self.smooth:  # one pass per array in C++ (NumPy's five took longer than the Allreduce)
            _core.block_momentum_step(self.weights[k], self.start[k], self.delta[k], float(self.momentum),
                                      float(self.block_lr), not last, unscaled.get(k, 1.0))
