"""The NumPy oracle of block-synchronous mini-batch training (float64, written plainly).

B streams of whole sentences advance T steps in lockstep with the weights fixed for the
block; the block's loss is L = -(1/B) * sum of ln P over its scored positions (summed over
time, averaged over the streams); its exact gradient, truncated at the block's start, is
clipped to a global norm and applied once. The cell and output-layer arithmetic come from
ReferenceRNNLM, so this file only says how the positions are grouped and updated.
"""

from __future__ import annotations

import numpy as np

from reference import ReferenceRNNLM
from reference_streams import shard_sentences

DENSE_DECAYED = ("recurrent", "class_w", "input_w")  # the arrays that get the L2 term
NOT_CLIPPED = ("direct",)  # left out of the global norm (scaled with the rest)


class BlockReference(ReferenceRNNLM):
    """Block-synchronous training of a ReferenceRNNLM; ``streams`` holds each stream's state."""

    independent = False  # reset a stream's state after each sentence's </s>

    def start(self, ids, offsets, batch: int) -> None:
        """Cuts the corpus into ``batch`` streams of whole sentences and resets them."""
        self.ids = np.asarray(ids)
        self.offsets = np.asarray(offsets)
        n = len(self.offsets) - 1
        bounds = shard_sentences(self.offsets, n, batch)
        self.ends = set(int(o) - 1 for o in self.offsets[1:])
        self.streams = []
        for b in range(batch):
            begin, end = int(self.offsets[bounds[b]]), int(self.offsets[bounds[b + 1]])
            h, c = self.initial_state()
            self.streams.append({"k": begin, "begin": begin, "end": end, "h": h, "c": c,
                                 "history": [0] * max(self.order - 1, 1)})

    def done(self) -> bool:
        return all(s["k"] >= s["end"] for s in self.streams)

    def block_gradient(self, steps: int) -> tuple[float, int, dict]:
        """Runs one block forward and backward from the streams' current state (which it
        advances); returns (sum of ln P, scored positions, dL/dW for every weight)."""
        g = {k: np.zeros_like(v) for k, v in self.w.items()}  # d(sum ln P)/dW, ascent
        w, B = self.w, len(self.streams)
        logprob, scored = 0.0, 0
        for s in self.streams:
            trace = []  # per step: (input, h_prev, c_prev, h, c, cache, dlnP/dh)
            for _ in range(steps):
                k = s["k"]
                if k >= s["end"]:
                    break
                word_in = 0 if k == s["begin"] else int(self.ids[k - 1])
                target = int(self.ids[k])
                h, c, cache = self.step(word_in, s["h"], s["c"])
                s["history"] = self.push_history(s["history"], word_in)
                e = np.zeros(self.H)
                if target >= 0:
                    lp, e = self._output_gradient(h, target, s["history"], g)
                    logprob += lp
                    scored += 1
                trace.append((word_in, s["h"], s["c"], h, c, cache, e))
                s["h"], s["c"], s["k"] = h, c, k + 1
                if self.independent and k in self.ends:
                    # the sweep still runs through this step; the next one starts afresh
                    s["h"], s["c"] = self.initial_state()
                    s["history"] = [0] * max(self.order - 1, 1)
                    trace.append(None)
            dh, dc = np.zeros(self.H), np.zeros(self.H)
            for item in reversed(trace):
                if item is None:  # a reset: nothing flows back across it
                    dh, dc = np.zeros(self.H), np.zeros(self.H)
                    continue
                word_in, h_prev, c_prev, h, c, cache, e = item
                d_u, d_x, direct, dc = self.step_backward(dh + e, dc, h, c, cache, h_prev, c_prev)
                g["recurrent"] += np.outer(d_u, h_prev)
                g["hidden_bias"] += d_x
                if word_in >= 0 and "input_w" in w:  # embedding layer: x = input_w @ embed[word]
                    g["input_w"] += np.outer(d_x, w["embed"][word_in])
                    g["embed"][word_in] += w["input_w"].T @ d_x
                elif word_in >= 0:
                    g["embed"][word_in] += d_x
                dh = w["recurrent"].T @ d_u + direct
        return logprob, scored, {k: -v / B for k, v in g.items()}

    def train_block(self, steps: int, lr: float, clip_norm: float, l2: float = 0.0) -> tuple[float, int]:
        """One block: gradient, global-norm clipping, one SGD update."""
        logprob, scored, g = self.block_gradient(steps)
        norm = np.sqrt(sum(float((v * v).sum()) for k, v in g.items() if k not in NOT_CLIPPED))
        scale = clip_norm / norm if norm > clip_norm else 1.0
        for k, v in g.items():
            step = scale * v
            if k in DENSE_DECAYED:
                step = step + l2 * self.w[k]
            self.w[k] = self.w[k] - lr * step
        return logprob, scored

    def train_epoch_blocks(self, ids, offsets, *, batch: int, steps: int, lr: float = 1.0,
                           clip_norm: float = 5.0, l2: float = 0.0, independent: bool = False) -> float:
        """One epoch of block-synchronous training in place; returns the sum of ln P."""
        self.independent = independent
        self.start(ids, offsets, batch)
        total = 0.0
        while not self.done():
            total += self.train_block(steps, lr, clip_norm, l2)[0]
        return total


def numerical_block_gradient(ref: BlockReference, ids, offsets, batch: int, steps: int, name: str,
                             index: tuple, eps: float = 1e-6) -> float:
    """Central difference of the first block's loss L = -(1/B) sum ln P in one weight."""
    def loss() -> float:
        ref.start(ids, offsets, batch)
        return -ref.block_gradient(steps)[0] / batch

    keep = ref.w[name][index]
    ref.w[name][index] = keep + eps
    up = loss()
    ref.w[name][index] = keep - eps
    down = loss()
    ref.w[name][index] = keep
    return (up - down) / (2 * eps)
