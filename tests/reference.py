"""A small pure-NumPy RNNLM, float64: the oracle the C++ engine is checked against.

It implements the same model (Elman layer, class-factored softmax) and the same online
training algorithm (rnnlm-0.4b's truncated BPTT with blocks, L2 every 10th word, error
clipping), written plainly and independently of the C++ code.
"""

from __future__ import annotations

import numpy as np

RESET_HIDDEN = 1.0


def activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(name)


def derivative(name: str, h: np.ndarray) -> np.ndarray:
    """f'(z) written in terms of h = f(z)."""
    if name == "sigmoid":
        return h * (1.0 - h)
    if name == "tanh":
        return 1.0 - h * h
    return (h > 0).astype(h.dtype)


def log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max()
    return z - m - np.log(np.exp(z - m).sum())


class ReferenceRNNLM:
    """Weights as float64 copies; ``w`` holds embed, recurrent, hidden_bias, class_w,
    class_b, word_w, word_b with the engine's shapes."""

    def __init__(self, weights: dict, class_begin: np.ndarray, activation: str):
        self.w = {k: np.array(v, dtype=np.float64) for k, v in weights.items()}
        self.class_begin = np.asarray(class_begin)
        self.word_class = np.repeat(np.arange(len(self.class_begin) - 1), np.diff(self.class_begin))
        self.act = activation
        self.H = self.w["recurrent"].shape[0]

    # --- forward -------------------------------------------------------------------
    def hidden_step(self, word_in: int, h_prev: np.ndarray) -> np.ndarray:
        z = self.w["recurrent"] @ h_prev + self.w["hidden_bias"]
        if word_in >= 0:
            z = z + self.w["embed"][word_in]
        return activate(self.act, z)

    def output(self, h: np.ndarray, target: int):
        """(ln P(target), P(class), P(word | class), class, first id of the class)."""
        c = self.word_class[target]
        b, e = self.class_begin[c], self.class_begin[c + 1]
        lc = log_softmax(self.w["class_w"] @ h + self.w["class_b"])
        lw = log_softmax(self.w["word_w"][b:e] @ h + self.w["word_b"][b:e])
        return lc[c] + lw[target - b], np.exp(lc), np.exp(lw), c, b

    def distribution(self, h: np.ndarray) -> np.ndarray:
        pc = np.exp(log_softmax(self.w["class_w"] @ h + self.w["class_b"]))
        out = np.empty(len(self.word_class))
        for c in range(len(self.class_begin) - 1):
            b, e = self.class_begin[c], self.class_begin[c + 1]
            out[b:e] = pc[c] * np.exp(log_softmax(self.w["word_w"][b:e] @ h + self.w["word_b"][b:e]))
        return out

    def sentence_logprobs(self, ids) -> np.ndarray:
        """ln P of each word of a sentence (ending with </s>) from the reset state."""
        h = np.full(self.H, RESET_HIDDEN)
        out = []
        prev = 0
        for t in ids:
            h = self.hidden_step(prev, h)
            out.append(self.output(h, t)[0])
            prev = t
        return np.array(out)

    # --- exact gradient (full BPTT) ------------------------------------------------
    def sentence_gradient(self, ids) -> dict:
        """d ln P(sentence) / d weights, by full backpropagation through time."""
        w = self.w
        g = {k: np.zeros_like(v) for k, v in w.items()}
        hs = [np.full(self.H, RESET_HIDDEN)]
        ins = []
        err_out = []
        prev = 0
        for t in ids:
            h = self.hidden_step(prev, hs[-1])
            _, pc, pw, c, b = self.output(h, t)
            gc = -pc
            gc[c] += 1
            gw = -pw
            gw[t - b] += 1
            n = len(gw)
            err_out.append(w["class_w"].T @ gc + w["word_w"][b:b + n].T @ gw)
            g["class_w"] += np.outer(gc, h)
            g["class_b"] += gc
            g["word_w"][b:b + n] += np.outer(gw, h)
            g["word_b"][b:b + n] += gw
            hs.append(h)
            ins.append(prev)
            prev = t
        e = np.zeros(self.H)
        for k in range(len(ids) - 1, -1, -1):
            e = e + err_out[k]
            d = e * derivative(self.act, hs[k + 1])
            g["recurrent"] += np.outer(d, hs[k])
            g["hidden_bias"] += d
            if ins[k] >= 0:
                g["embed"][ins[k]] += d
            e = w["recurrent"].T @ d
        return g

    # --- rnnlm-0.4b's online training ---------------------------------------------
    def train_epoch(self, ids, offsets, *, lr=0.1, beta=1e-6, gradient_cutoff=15.0, bptt=4, bptt_block=10,
                    independent=False) -> float:
        """One epoch in place; returns the sum of ln P over scored words."""
        w = self.w
        H = self.H
        max_steps = 1 if bptt <= 1 else max(1, bptt + bptt_block - 2)
        ends = set(int(o) - 1 for o in offsets[1:])
        counter = 0
        logprob = 0.0

        def reset():
            return [np.full(H, RESET_HIDDEN)], [], []

        hs, errs, ins = reset()  # hs[0] is the state before the first step
        for k in range(len(ids)):
            word_in = 0 if k == 0 else int(ids[k - 1])
            target = int(ids[k])
            counter += 1
            h = self.hidden_step(word_in, hs[-1])
            keep = 1.0 - lr * beta if counter % 10 == 0 else 1.0
            e = np.zeros(H)
            if target >= 0:
                lp, pc, pw, c, b = self.output(h, target)
                logprob += lp
                gc = -pc
                gc[c] += 1
                gw = -pw
                gw[target - b] += 1
                n = len(gw)
                e += w["word_w"][b:b + n].T @ gw + w["class_w"].T @ gc
                w["word_w"][b:b + n] = keep * w["word_w"][b:b + n] + lr * np.outer(gw, h)
                w["word_b"][b:b + n] += lr * gw
                w["class_w"] = keep * w["class_w"] + lr * np.outer(gc, h)
                w["class_b"] += lr * gc
                e = np.clip(e, -gradient_cutoff, gradient_cutoff)
            hs.append(h)
            errs.append(e)
            ins.append(word_in)
            sentence_end = k in ends
            if bptt <= 1 or counter % bptt_block == 0 or (independent and sentence_end):
                self._bptt(hs, errs, ins, min(max_steps, len(errs)), lr, keep, gradient_cutoff)
            if independent and sentence_end:
                hs, errs, ins = reset()
            elif len(hs) > max_steps + 2:  # keep the history bounded, as the engine's ring does
                del hs[0], errs[0], ins[0]
        return logprob

    def _bptt(self, hs, errs, ins, n_steps, lr, keep, cutoff):
        w = self.w
        t = len(errs) - 1  # index into errs/ins; hs is shifted by one (hs[t + 1] is h_t)
        e = errs[t].copy()
        D, X = [], []
        for s in range(n_steps):
            j = t - s
            d = e * derivative(self.act, hs[j + 1])
            D.append(d)
            X.append(hs[j])
            if s + 1 < n_steps:
                ep = np.clip(w["recurrent"].T @ d, -cutoff, cutoff)
                e = ep + (errs[j - 1] if j - 1 >= 0 else 0.0)
        w["recurrent"] = keep * w["recurrent"] + lr * sum(np.outer(d, x) for d, x in zip(D, X))
        w["hidden_bias"] += lr * sum(D)
        done = set()
        for s in range(n_steps):
            word = ins[t - s]
            if word < 0 or word in done:
                continue
            done.add(word)
            total = sum(D[r] for r in range(s, n_steps) if ins[t - r] == word)
            w["embed"][word] = keep * w["embed"][word] + lr * total
        for i in range(len(errs)):
            errs[i] = np.zeros_like(errs[i])
