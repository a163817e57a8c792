"""A small pure-NumPy RNNLM, float64: the oracle the C++ engine is checked against.

It implements the same model (Elman, GRU or LSTM cell; class-factored softmax; hashed
max-ent direct connections) and the same online training algorithm (rnnlm-0.4b's truncated
BPTT with blocks, L2 every 10th word, error clipping), written plainly and independently
of the C++ code. The batched-streams epoch (streams=B) is in reference_streams.py.
"""

from __future__ import annotations

import numpy as np

M64 = (1 << 64) - 1
SIMPLE = ("sigmoid", "tanh", "relu")
GATES = {"sigmoid": 1, "tanh": 1, "relu": 1, "gru": 3, "lstm": 4}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    return np.maximum(z, 0.0)


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


# --- the direct-connection (max-ent) feature hash (the same function as csrc/direct.cc) ---
def mix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def hash_orders(history, order: int, kind: int) -> list[int]:
    h = mix(kind)
    out = []
    for a in range(order):
        if a > 0:
            w = int(history[a - 1])
            if w < 0:
                break
            h = mix(h ^ (((w + 1) * 0x100000001B3) & M64))
        out.append(mix((h + a) & M64))
    return out


class ReferenceRNNLM:
    """Weights as float64 copies; ``w`` holds embed, recurrent, hidden_bias, class_w,
    class_b, word_w, word_b (and direct, and input_w for an embedding layer) with the engine's
    shapes."""

    def __init__(self, weights: dict, class_begin: np.ndarray, cell: str, direct_order: int = 0):
        self.w = {k: np.array(v, dtype=np.float64) for k, v in weights.items()}
        self.class_begin = np.asarray(class_begin)
        self.word_class = np.repeat(np.arange(len(self.class_begin) - 1), np.diff(self.class_begin))
        self.cell = cell
        self.H = self.w["recurrent"].shape[1]
        self.order = direct_order if "direct" in self.w else 0
        self.reset_value = 1.0 if cell in SIMPLE else 0.0

    # --- recurrent cell ------------------------------------------------------------
    def initial_state(self):
        return np.full(self.H, self.reset_value), np.zeros(self.H)

    def input_row(self, word: int) -> np.ndarray:
        """The gate inputs of a word: its embed row, or input_w @ its embedding (embedding layer)."""
        if "input_w" in self.w:
            return self.w["input_w"] @ self.w["embed"][word]
        return self.w["embed"][word]

    def step(self, word_in: int, h_prev, c_prev):
        """Returns (h, c, cache) for one input word."""
        H, w = self.H, self.w
        a = w["hidden_bias"].copy()
        if word_in >= 0:
            a = a + self.input_row(word_in)
        u = w["recurrent"] @ h_prev
        if self.cell in SIMPLE:
            h = activate(self.cell, a + u)
            return h, c_prev, {}
        if self.cell == "gru":
            z = sigmoid(a[:H] + u[:H])
            r = sigmoid(a[H:2 * H] + u[H:2 * H])
            un = u[2 * H:]
            n = np.tanh(a[2 * H:] + r * un)
            return (1 - z) * n + z * h_prev, c_prev, {"z": z, "r": r, "n": n, "un": un}
        i = sigmoid(a[:H] + u[:H])
        f = sigmoid(a[H:2 * H] + u[H:2 * H])
        g = np.tanh(a[2 * H:3 * H] + u[2 * H:3 * H])
        o = sigmoid(a[3 * H:] + u[3 * H:])
        c = f * c_prev + i * g
        return o * np.tanh(c), c, {"i": i, "f": f, "g": g, "o": o}

    def step_backward(self, dh, dc, h, c, cache, h_prev, c_prev):
        """(d_u, d_x, dh_direct, dc_prev) for one step, as documented in csrc/rnn.h."""
        H = self.H
        if self.cell in SIMPLE:
            d = dh * derivative(self.cell, h)
            return d, d, np.zeros(H), np.zeros(H)
        if self.cell == "gru":
            z, r, n, un = cache["z"], cache["r"], cache["n"], cache["un"]
            dn = dh * (1 - z)
            dz = dh * (h_prev - n)
            dan = dn * (1 - n * n)
            daz = dz * z * (1 - z)
            dar = dan * un * r * (1 - r)
            return (np.concatenate([daz, dar, dan * r]), np.concatenate([daz, dar, dan]), dh * z, np.zeros(H))
        i, f, g, o = cache["i"], cache["f"], cache["g"], cache["o"]
        tc = np.tanh(c)
        dct = dc + dh * o * (1 - tc * tc)
        d = np.concatenate([dct * g * i * (1 - i), dct * c_prev * f * (1 - f), dct * i * (1 - g * g),
                            dh * tc * o * (1 - o)])
        return d, d, np.zeros(H), dct * f

    # --- output layer --------------------------------------------------------------
    def _features(self, history, c):
        if not self.order:
            return [], []
        size = len(self.w["direct"])
        C = len(self.class_begin) - 1
        cls = [x % (size // 2 - C + 1) for x in hash_orders(history, self.order, 1)]
        half, span = size // 2, size - size // 2
        n = self.class_begin[c + 1] - self.class_begin[c]
        hashes = hash_orders(history, self.order, 2 + (c << 8))
        words = [[half + (x + j) % span for j in range(n)] for x in hashes]
        return cls, words

    def output(self, h, target: int, history=()):
        """(ln P(target), P(class), P(word | class), class, first id, features)."""
        c = int(self.word_class[target])
        b, e = self.class_begin[c], self.class_begin[c + 1]
        C = len(self.class_begin) - 1
        zc = self.w["class_w"] @ h + self.w["class_b"]
        zw = self.w["word_w"][b:e] @ h + self.w["word_b"][b:e]
        feats = self._features(history, c)
        for s in feats[0]:
            zc = zc + self.w["direct"][s:s + C]
        for idx in feats[1]:
            zw = zw + self.w["direct"][idx]
        lc, lw = log_softmax(zc), log_softmax(zw)
        return lc[c] + lw[target - b], np.exp(lc), np.exp(lw), c, b, feats

    def distribution(self, h, history=()) -> np.ndarray:
        out = np.empty(len(self.word_class))
        for c in range(len(self.class_begin) - 1):
            b, e = self.class_begin[c], self.class_begin[c + 1]
            for t in range(b, e):
                out[t] = np.exp(self.output(h, t, history)[0])
        return out

    def push_history(self, history, word_in):
        return ([word_in] + list(history))[: max(self.order - 1, 1)]

    def sentence_logprobs(self, ids) -> np.ndarray:
        """ln P of each word of a sentence (ending with </s>) from the reset state."""
        h, c = self.initial_state()
        history = [0] * max(self.order - 1, 1)
        out, prev = [], 0
        for t in ids:
            h, c, _ = self.step(prev, h, c)
            history = self.push_history(history, prev)
            out.append(self.output(h, t, history)[0])
            prev = t
        return np.array(out)

    # --- exact gradient (full BPTT) ------------------------------------------------
    def _output_gradient(self, h, t, history, g, lr=1.0, keep=1.0, direct_keep=1.0, update=False):
        """Adds the output layer's gradient to ``g`` (or applies it when ``update``);
        returns (ln P, dlnP/dh through the current weights)."""
        w = self.w
        lp, pc, pw, c, b, feats = self.output(h, t, history)
        gc = -pc
        gc[c] += 1
        gw = -pw
        gw[t - b] += 1
        n = len(gw)
        e = w["class_w"].T @ gc + w["word_w"][b:b + n].T @ gw
        C = len(gc)
        dst = w if update else g
        dst["word_w"][b:b + n] = keep * dst["word_w"][b:b + n] + lr * np.outer(gw, h)
        dst["word_b"][b:b + n] += lr * gw
        dst["class_w"] = keep * dst["class_w"] + lr * np.outer(gc, h)
        dst["class_b"] += lr * gc
        for s in feats[0]:
            dst["direct"][s:s + C] = direct_keep * dst["direct"][s:s + C] + lr * gc
        for idx in feats[1]:
            for j, k in enumerate(idx):
                dst["direct"][k] = direct_keep * dst["direct"][k] + lr * gw[j]
        return lp, e

    def sentence_gradient(self, ids) -> dict:
        """d ln P(sentence) / d weights, by full backpropagation through time."""
        w = self.w
        g = {k: np.zeros_like(v) for k, v in w.items()}
        h, c = self.initial_state()
        states = [(h, c, {})]
        ins, err_out = [], []
        history = [0] * max(self.order - 1, 1)
        prev = 0
        for t in ids:
            h, c, cache = self.step(prev, h, c)
            history = self.push_history(history, prev)
            _, e = self._output_gradient(h, t, history, g)
            err_out.append(e)
            states.append((h, c, cache))
            ins.append(prev)
            prev = t
        dh = np.zeros(self.H)
        dc = np.zeros(self.H)
        for k in range(len(ids) - 1, -1, -1):
            dh = dh + err_out[k]
            h, c, cache = states[k + 1]
            h_prev, c_prev, _ = states[k]
            d_u, d_x, direct, dc = self.step_backward(dh, dc, h, c, cache, h_prev, c_prev)
            g["recurrent"] += np.outer(d_u, h_prev)
            g["hidden_bias"] += d_x
            if ins[k] >= 0:
                g["embed"][ins[k]] += d_x
            dh = w["recurrent"].T @ d_u + direct
        return g

    # --- rnnlm-0.4b's online training ---------------------------------------------
    def train_epoch(self, ids, offsets, *, lr=0.1, l2=1e-6, gradient_cutoff=15.0, bptt=4, bptt_block=10,
                    independent=False, dropout=0.0, input_dropout=0.0, seed=1) -> float:
        """One epoch in place; returns the sum of ln P over scored words. ``dropout`` masks the
        hidden units feeding the output layer, drawn from the engine's splitmix64 stream."""
        rng_state = seed & M64

        def uniform() -> float:  # the engine's Rng::uniform: a splitmix64 draw, top 53 bits
            nonlocal rng_state
            draw = (mix(rng_state) >> 11) * 2.0 ** -53
            rng_state = (rng_state + 0x9E3779B97F4A7C15) & M64
            return draw

        p = float(np.float32(dropout))
        p_input = float(np.float32(input_dropout))
        scale = float(np.float32(1.0) / (np.float32(1.0) - np.float32(dropout)))
        max_steps = 1 if bptt <= 1 else max(1, bptt + bptt_block - 2)
        ends = {int(o) - 1 for o in offsets[1:]}
        logprob = 0.0

        def reset():
            h, c = self.initial_state()
            return [(h, c, {})], [], [], [0] * max(self.order - 1, 1)

        states, errs, ins, history = reset()  # states[0] is the state before the first step
        for k in range(len(ids)):
            word_in = 0 if k == 0 else int(ids[k - 1])
            target = int(ids[k])
            counter = k + 1  # positions so far, this one included
            history = self.push_history(history, word_in)  # the true word, even when dropped below
            if input_dropout > 0 and word_in >= 0 and uniform() < p_input:
                word_in = -1
            h, c, cache = self.step(word_in, states[-1][0], states[-1][1])
            keep = 1.0 - lr * l2 if counter % 10 == 0 else 1.0
            e = np.zeros(self.H)
            if target >= 0:
                mask = np.ones(self.H)
                if dropout > 0:
                    for i in range(self.H):
                        mask[i] = 0.0 if uniform() < p else scale
                lp, e = self._output_gradient(h * mask, target, history, None, lr, keep, 1.0 - lr * l2,
                                              update=True)
                e = e * mask
                logprob += lp
                e = np.clip(e, -gradient_cutoff, gradient_cutoff)
            states.append((h, c, cache))
            errs.append(e)
            ins.append(word_in)
            sentence_end = k in ends
            if bptt <= 1 or counter % bptt_block == 0 or (independent and sentence_end):
                self._bptt(states, errs, ins, min(max_steps, len(errs)), lr, keep, gradient_cutoff)
            if independent and sentence_end:
                states, errs, ins, history = reset()
            elif len(states) > max_steps + 2:  # keep the history bounded, as the engine's ring does
                del states[0], errs[0], ins[0]
        return logprob

    def _bptt(self, states, errs, ins, n_steps, lr, keep, cutoff):
        DU, DX, X = self.bptt_sweep(states, errs, ins, n_steps, cutoff)
        w = self.w
        w["recurrent"] = keep * w["recurrent"] + lr * sum(np.outer(d, x) for d, x in zip(DU, X))
        w["hidden_bias"] += lr * sum(DX)
        self.embed_update(ins, DX, n_steps, lr, keep)
        for i in range(len(errs)):
            errs[i] = np.zeros_like(errs[i])

    def bptt_sweep(self, states, errs, ins, n_steps, cutoff):
        """The truncated sweep back from the last step through the current weights (nothing
        is updated): the per-step (d_u, d_x, h_prev), most recent step first."""
        w = self.w
        t = len(errs) - 1  # index into errs/ins; states is shifted by one
        dh = errs[t].copy()
        dc = np.zeros(self.H)
        DU, DX, X = [], [], []
        for s in range(n_steps):
            j = t - s
            h, c, cache = states[j + 1]
            h_prev, c_prev, _ = states[j]
            d_u, d_x, direct, dc_prev = self.step_backward(dh, dc, h, c, cache, h_prev, c_prev)
            DU.append(d_u)
            DX.append(d_x)
            X.append(h_prev)
            if s + 1 < n_steps:
                ep = np.clip(w["recurrent"].T @ d_u + direct, -cutoff, cutoff)
                dh = ep + (errs[j - 1] if j - 1 >= 0 else 0.0)
                dc = np.clip(dc_prev, -cutoff, cutoff)
        return DU, DX, X

    def embed_update(self, ins, DX, n_steps, lr, keep):
        """Input embeddings after a sweep: one decay per distinct word, then all its steps."""
        w, t, done = self.w, len(ins) - 1, set()
        for s in range(n_steps):
            word = ins[t - s]
            if word < 0 or word in done:
                continue
            done.add(word)
            total = sum(DX[r] for r in range(s, n_steps) if ins[t - r] == word)
            w["embed"][word] = keep * w["embed"][word] + lr * total
