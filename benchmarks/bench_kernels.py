"""Per-word cost of the engine's two inner loops, and the C++ scorer against plain NumPy.

* one training epoch vs one scoring pass over the first 20,000 positions of PTB (H=200, 100 classes,
  one thread): ``us_per_word`` in extra_info, and ``train_over_score`` on whichever of the two runs last;
* the forward pass (hidden step, class softmax, in-class softmax, float32) of the first 2,000 positions
  in a plain NumPy loop vs the C++ scorer on the same positions: ``speedup_vs_numpy`` in extra_info.
  The NumPy result is checked against the C++ one, so both compute the same thing.
"""

from __future__ import annotations

import time

import numpy as np
from benchutil import PTB, PTB_EPOCH, SEED, head, record

from rnnlm_fast import RNNLM
from rnnlm_fast.units import LN10

KERNEL_POSITIONS = 20_000
NUMPY_POSITIONS = 2_000
RESET_HIDDEN = 1.0  # the engine's hidden state at the start of a sentence (csrc/rnn.h kResetHidden)

_per_word: dict[str, float] = {}  # "train" / "score" -> seconds per word, for train_over_score


def _fresh_model(vocab) -> RNNLM:
    return RNNLM(vocab, hidden=PTB["hidden"], cell=PTB["activation"], seed=SEED)


def _note(benchmark, kind: str, positions: int) -> None:
    if benchmark.stats is None:
        return
    _per_word[kind] = benchmark.stats.stats.mean / positions
    if "train" in _per_word and "score" in _per_word:
        benchmark.extra_info["train_over_score"] = round(_per_word["train"] / _per_word["score"], 2)


def test_kernel_train_epoch(benchmark, ptb_vocab, ptb_slice):
    benchmark.group = f"kernels: {KERNEL_POSITIONS} positions, H=200, 1 thread"
    part = head(ptb_slice, KERNEL_POSITIONS)

    def epoch(model):
        return model.train_epoch(part, threads=1, **PTB_EPOCH)

    stats = benchmark.pedantic(epoch, setup=lambda: ((_fresh_model(ptb_vocab),), {}), rounds=5, iterations=1)
    record(benchmark, stats.processed, threads=1, hidden=PTB["hidden"], classes=ptb_vocab.n_classes)
    _note(benchmark, "train", stats.processed)


def _ln_positions(model: RNNLM, part, independent: bool) -> np.ndarray:
    """ln P of every position: one scoring pass of the engine."""
    return model.perplexity(part, independent=independent, per_word=True).word_log10 * LN10


def test_kernel_score_pass(benchmark, ptb_vocab, ptb_slice):
    benchmark.group = f"kernels: {KERNEL_POSITIONS} positions, H=200, 1 thread"
    part = head(ptb_slice, KERNEL_POSITIONS)
    model = _fresh_model(ptb_vocab)
    lp = benchmark.pedantic(_ln_positions, args=(model, part, False), rounds=5, iterations=1)
    assert np.isfinite(lp).all()
    record(benchmark, len(part.ids), threads=1, hidden=PTB["hidden"], classes=ptb_vocab.n_classes)
    _note(benchmark, "score", len(part.ids))


# --- NumPy reference ---------------------------------------------------------------------------------------
def numpy_forward(w: dict[str, np.ndarray], class_begin: np.ndarray, word_class: np.ndarray,
                  ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """ln P of every position, each sentence from a reset state (independent), all in float32."""
    E, R, bh = w["embed"], w["recurrent"], w["hidden_bias"]
    Cw, cb, Ww, wb = w["class_w"], w["class_b"], w["word_w"], w["word_b"]
    out = np.empty(len(ids))
    for s in range(len(offsets) - 1):
        h = np.full(R.shape[0], RESET_HIDDEN, dtype=np.float32)
        prev = 0  # </s> opens every sentence
        for k in range(offsets[s], offsets[s + 1]):
            a = R @ h + bh + E[prev]
            h = np.float32(1) / (np.float32(1) + np.exp(-a))
            target = ids[k]
            c = word_class[target]
            z = Cw @ h + cb
            zmax = z.max()
            lp_class = z[c] - zmax - np.log(np.exp(z - zmax).sum())
            b, e = class_begin[c], class_begin[c + 1]
            y = Ww[b:e] @ h + wb[b:e]
            ymax = y.max()
            lp_word = y[target - b] - ymax - np.log(np.exp(y - ymax).sum())
            out[k] = float(lp_class) + float(lp_word)
            prev = target
    return out


def test_kernel_numpy_reference(benchmark, ptb_vocab, ptb_slice):
    """The measured call is the NumPy loop; the C++ scorer is timed on the same positions alongside."""
    benchmark.group = f"kernels: forward pass, {NUMPY_POSITIONS} positions, H=200, 1 thread"
    part = head(ptb_slice, NUMPY_POSITIONS)
    ids, offsets = part.mapped, part.offsets
    model = _fresh_model(ptb_vocab)
    w = {k: np.ascontiguousarray(v) for k, v in model.weights().items()}
    class_begin = np.asarray(ptb_vocab.class_begin)
    word_class = np.asarray(ptb_vocab.word_class)

    ref = benchmark.pedantic(numpy_forward, args=(w, class_begin, word_class, ids, offsets), rounds=3,
                             iterations=1)

    cpp = _ln_positions(model, part, True)  # also the warm-up
    np.testing.assert_allclose(ref, cpp, rtol=0, atol=2e-3)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        _ln_positions(model, part, True)
        times.append(time.perf_counter() - t0)
    record(benchmark, len(ids), threads=1, hidden=PTB["hidden"], classes=ptb_vocab.n_classes)
    benchmark.extra_info["cpp_words_per_sec"] = round(len(ids) / float(np.mean(times)), 1)
    if benchmark.stats is not None:
        speedup = benchmark.stats.stats.mean / float(np.mean(times))
        benchmark.extra_info["speedup_vs_numpy"] = round(speedup, 1)
