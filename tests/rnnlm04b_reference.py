"""rnnlm-0.4b in NumPy, the oracle of rnnlm_fast.rnnlm04b: its class assignment (``initNet``),
its forward pass with the direct connections' hash (``computeNet``) and its test loop
(``testNet``), written from the description of its public source (rnnlm.cpp, rnnlmlib.cpp),
in float64 and plain loops, as literally as Python allows; and a writer of its model files
that shares nothing with rnnlm_fast's.

Everything here follows rnnlm-0.4b's own steps, not rnnlm-fast's derivation of them: the
hash is recomputed per order with 32- and 64-bit wraparound, class features are applied
while their running index is non-zero, word features advance their index modulo the table
size and stop (for that order and every higher one) once it is zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PRIMES = [108641969, 116049371, 125925907, 133333309, 145678979, 175308587, 197530793, 234567803, 251851741,
          264197411, 330864029, 399999781, 407407183, 459258997, 479012069, 545678687, 560493491, 607407037,
          629629243, 656789717, 716048933, 718518067, 725925469, 733332871, 753085943, 755555077, 782715551,
          790122953, 812345159, 814814293, 893826581, 923456189, 940740127, 953085797, 985184539, 990122807]
U32, U64 = (1 << 32) - 1, (1 << 64) - 1


def assign_classes(counts, n_classes: int, old_classes: bool) -> list[int]:
    """initNet's loop: word by word, the running share (of sqrt counts, or of counts)."""
    b = sum(int(c) for c in counts)
    df, dd, a, out = 0.0, 0.0, 0, []
    if not old_classes:
        for c in counts:
            dd += np.sqrt(int(c) / float(b))
    for c in counts:
        df += int(c) / float(b) if old_classes else np.sqrt(int(c) / float(b)) / dd
        if df > 1:
            df = 1
        out.append(a)
        if df > (a + 1) / float(n_classes) and a < n_classes - 1:
            a += 1
    return out


class Rnnlm04b:
    """A network as rnnlm-0.4b holds it: syn0 (H x (V + H)), syn1 ((V + C) x H), syn_d (D)."""

    def __init__(self, syn0, syn1, direct, counts, n_classes: int, direct_order: int,
                 old_classes: bool = False):
        self.syn0, self.syn1 = np.asarray(syn0, np.float64), np.asarray(syn1, np.float64)
        self.direct = np.asarray(direct, np.float64)
        self.H, self.V, self.C = self.syn0.shape[0], len(counts), n_classes
        self.D, self.order = len(self.direct), direct_order
        self.word_class = assign_classes(counts, n_classes, old_classes)
        self.class_words = [[w for w in range(self.V) if self.word_class[w] == c] for c in range(n_classes)]
        self.quirks = {"zero_class_hash": 0, "word_block_end": 0}  # how often each quirk was met

    def _hashes(self, history: list[int], word_class: int | None) -> tuple[list[int], int]:
        """The start index of each order's block (0 past an unknown word), and how many orders
        were hashed."""
        h, a = [0] * self.order, 0
        for a in range(self.order + 1):
            if a == self.order or a > 0 and history[a - 1] == -1:
                break
            base = (PRIMES[0] * PRIMES[1]) & U32  # unsigned int * unsigned int
            h[a] = base if word_class is None else (base * (word_class + 1)) & U64
            for b in range(1, a + 1):
                pick = (((a * PRIMES[b]) & U32) + b) % len(PRIMES)
                h[a] = (h[a] + PRIMES[pick] * (history[b - 1] + 1)) & U64
            h[a] = h[a] % (self.D // 2) if word_class is None else h[a] % (self.D // 2) + self.D // 2
        return h, a

    def step(self, hidden: np.ndarray, last_word: int, word: int,
             history: list[int]) -> tuple[float, np.ndarray]:
        """P(word) after reading last_word (-1: none) from state `hidden`, and the new state."""
        x = self.syn0[:, self.V:] @ hidden
        if last_word != -1:
            x = x + self.syn0[:, last_word]
        h = 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
        cls = self.syn1[self.V:] @ h
        if self.D > 0:
            hashes, hashed = self._hashes(history, None)
            self.quirks["zero_class_hash"] += int(0 in hashes[:hashed])
            for c in range(self.C):
                for b in range(self.order):
                    if not hashes[b]:
                        break
                    cls[c] += self.direct[hashes[b]]
                    hashes[b] += 1
        pc = np.exp(cls - cls.max())
        pc /= pc.sum()
        k = self.word_class[word]
        members = self.class_words[k]
        z = self.syn1[members] @ h
        if self.D > 0:
            hashes = self._hashes(history, k)[0]
            for j in range(len(members)):
                for b in range(self.order):
                    if not hashes[b]:
                        break
                    z[j] += self.direct[hashes[b]]
                    hashes[b] = (hashes[b] + 1) % self.D
                    self.quirks["word_block_end"] += int(hashes[b] == 0)
        pw = np.exp(z - z.max())
        pw /= pw.sum()
        return float(pc[k] * pw[members.index(word)]), h

    def test(self, sentences: list[list[int]], independent: bool) -> list[float]:
        """testNet: log10 P of each word and </s> (nan for an unknown word, -1), from the
        reset state (hidden layer 1.0, history </s>); reset after each </s> when independent."""
        hidden, last, history, out = np.ones(self.H), 0, [0] * 20, []
        for words in sentences:
            for word in [*words, 0]:
                if word == -1:
                    out.append(float("nan"))
                    h = self.step(hidden, last, 0, history)[1]  # the state moves on all the same
                else:
                    p, h = self.step(hidden, last, word, history)
                    out.append(np.log10(p))
                hidden, last = h, word
                history = [word] + history[:-1]
                if independent and word == 0:
                    hidden, last, history = np.ones(self.H), 0, [0] * 20
        return out


def write_model(path: Path, words, counts, word_class, syn0, syn1, direct, n_classes: int,
                direct_order: int, *, binary: bool = False, digits: str = "exact",
                old_classes: bool = False) -> None:
    """A model file as rnnlm-0.4b's saveNet writes one. ``digits``: "exact" writes each float32
    so that it reads back unchanged, "rnnlm" as rnnlm-0.4b does (4 decimals, 2 for direct)."""
    H, V = np.shape(syn0)[0], len(words)
    lines = ["version: 10", f"file format: {int(binary)}", "", "training data file: train.txt",
             "validation data file: valid.txt", "", "last probability of validation data: -1234.567890",
             "number of finished iterations: 3", "current position in training data: 0",
             "current probability of training data: 0.000000", "save after processing # words: 0",
             "# of training words: 1000", f"input layer size: {V + H}", f"hidden layer size: {H}",
             "compression layer size: 0", f"output layer size: {V + n_classes}",
             f"direct connections: {len(direct)}", f"direct order: {direct_order}", "bptt: 5",
             "bptt block: 10", f"vocabulary size: {V}", f"class size: {n_classes}",
             f"old classes: {int(old_classes)}", "independent sentences mode: 1",
             "starting learning rate: 0.100000", "current learning rate: 0.050000",
             "learning rate decrease: 1", "", "", "Vocabulary:"]
    lines += [f"{i:6d}\t{c:10d}\t{w}\t{k}" for i, (w, c, k) in enumerate(zip(words, counts, word_class))]
    hidden_state = np.full(H, 0.25, np.float32)
    arrays = [np.asarray(a, np.float32).ravel() for a in (hidden_state, syn0, syn1, direct)]
    with open(path, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
        if binary:
            for a in arrays:
                f.write(a.astype("<f4").tobytes())
            return
        for title, a, fmt in zip(("\nHidden layer activation:", "\nWeights 0->1:", "\n\nWeights 1->2:",
                                  "\nDirect connections:"), arrays, ("%.4f", "%.4f", "%.4f", "%.2f")):
            values = [repr(float(v)) if digits == "exact" else fmt % v for v in a]
            f.write((title + "\n" + "".join(v + "\n" for v in values)).encode("ascii"))


def as_written(a: np.ndarray, fmt: str) -> np.ndarray:
    """The float32 values a text file written with ``fmt`` gives back."""
    return np.array([float(fmt % v) for v in np.asarray(a, np.float32).ravel()],
                    np.float32).reshape(np.shape(a))
