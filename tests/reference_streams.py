"""The NumPy reference's batched-streams epoch (the engine's streams=B, csrc/batch_trainer.cc):
several lanes in lockstep through one ReferenceRNNLM's weights, with the lanes' split and random
streams as the engine makes them. Float64, written independently of the C++ code."""

from __future__ import annotations

import bisect

import numpy as np
from reference import M64, ReferenceRNNLM, mix


def output_batch(ref: ReferenceRNNLM, rows, lr, keep, direct_keep):
    """The output layer for one step of several lanes: ``rows`` holds (h, target, history)
    per scored lane. Every row's ln P and dlnP/dh come from the weights as they were;
    then class_w and each used class's word rows decay once by ``keep`` and move by lr
    times the summed gradients; biases move by the sums; each row's direct weights decay
    by ``direct_keep`` and move, row by row. Returns [(ln P, dlnP/dh)] in row order."""
    w, grads = ref.w, []
    if not rows:  # no scored lane: nothing moves, not even by the decay
        return []
    for h, t, history in rows:
        lp, pc, pw, c, b, feats = ref.output(h, t, history)
        gc = -pc
        gc[c] += 1
        gw = -pw
        gw[t - b] += 1
        e = w["class_w"].T @ gc + w["word_w"][b:b + len(gw)].T @ gw
        grads.append((lp, e, h, gc, gw, c, b, feats))
    w["class_w"] = keep * w["class_w"] + lr * sum(np.outer(g[3], g[2]) for g in grads)
    w["class_b"] += lr * sum(g[3] for g in grads)
    for c in sorted({g[5] for g in grads}):
        mine = [g for g in grads if g[5] == c]
        b, n = mine[0][6], len(mine[0][4])
        w["word_w"][b:b + n] = keep * w["word_w"][b:b + n] + lr * sum(np.outer(g[4], g[2]) for g in mine)
        w["word_b"][b:b + n] += lr * sum(g[4] for g in mine)
    # Direct weights row by row. The engine goes through the rows sorted by target class
    # (stably); the order only matters at O(lr * l2 * lr * g) where rows share a weight.
    C = len(ref.class_begin) - 1
    for g in sorted(grads, key=lambda g: g[5]):
        gc, gw, feats = g[3], g[4], g[7]
        for s in feats[0]:
            w["direct"][s:s + C] = direct_keep * w["direct"][s:s + C] + lr * gc
        for idx in feats[1]:
            for j, k in enumerate(idx):
                w["direct"][k] = direct_keep * w["direct"][k] + lr * gw[j]
    return [(g[0], g[1]) for g in grads]


def train_epoch_streams(ref: ReferenceRNNLM, ids, offsets, *, streams=2, lr=0.1, l2=1e-6,
                        gradient_cutoff=15.0, bptt=4, bptt_block=10, independent=False, dropout=0.0,
                        input_dropout=0.0, seed=1) -> float:
    """One epoch of one training thread with ``streams`` lanes in lockstep (the engine's
    ``streams=B`` with threads=1), in place; returns the sum of ln P over scored words.

    The sentences are split into ``streams`` contiguous parts of about equal word counts
    (shard_sentences); lane b walks part b. Each step, every lane that still has words
    takes one: all lanes' forward steps and output gradients through the same weights
    (those before the step's updates), then the summed output-layer updates. The L2
    decay keeps rnnlm-0.4b's every-10th-word rate counted over the positions of all
    lanes: keep = (1 - lr*l2)^(tenths passed this step). BPTT runs for every active lane
    when the global step count is a multiple of ``bptt_block`` (or bptt <= 1), and with
    ``independent`` for a lane whose sentence ended (then the lane is reset); the sweeps
    of a step all read the weights before its BPTT updates, which are summed over (step,
    lane) rows with ``keep`` once; embeddings are updated lane after lane, as one stream
    would. Lane b draws its dropout masks from splitmix64 stream b: seed + golden * b."""
    # The API's learning-rate rule for several streams (options.lr_for_streams): the
    # engine sums the lanes' gradients, applied with lr * streams ** -0.4.
    if streams > 1:
        lr = lr * streams ** -0.4
    ids = np.asarray(ids)
    offsets = [int(o) for o in offsets]
    n_sentences = len(offsets) - 1
    parts = shard_sentences(offsets, n_sentences, streams)
    begin, end = [offsets[parts[b]] for b in range(streams)], [offsets[parts[b + 1]] for b in range(streams)]
    ends = {o - 1 for o in offsets[1:]}
    p = float(np.float32(dropout))
    p_input = float(np.float32(input_dropout))
    scale = float(np.float32(1.0) / (np.float32(1.0) - np.float32(dropout)))
    max_steps = 1 if bptt <= 1 else max(1, bptt + bptt_block - 2)
    decay = 1.0 - float(np.float32(lr)) * float(np.float32(l2))
    direct_keep = 1.0 - lr * l2
    n_hist = max(ref.order - 1, 1)

    class Lane:
        def __init__(lane, b):
            lane.rng = Splitmix64(seed + 0x9E3779B97F4A7C15 * b)
            lane.reset()

        def reset(lane):
            h, c = ref.initial_state()
            lane.states, lane.errs, lane.ins, lane.history = [(h, c, {})], [], [], [0] * n_hist

    lanes = [Lane(b) for b in range(streams)]
    k = list(begin)
    t = 0  # steps taken
    positions = 0  # active positions so far, for the every-10th-word L2 decay
    logprob = 0.0
    while True:
        active = [b for b in range(streams) if k[b] < end[b]]
        if not active:
            break
        # Forward: every active lane through the same weights.
        scored, rows, masks = [], [], {}
        for b in active:
            lane = lanes[b]
            word_in = 0 if k[b] == begin[b] else int(ids[k[b] - 1])
            target = int(ids[k[b]])
            lane.history = ref.push_history(lane.history, word_in)  # the true word
            if input_dropout > 0 and word_in >= 0 and lane.rng.uniform() < p_input:
                word_in = -1
            h, c, cache = ref.step(word_in, lane.states[-1][0], lane.states[-1][1])
            lane.states.append((h, c, cache))
            lane.errs.append(np.zeros(ref.H))
            lane.ins.append(word_in)
            if target >= 0:
                mask = np.ones(ref.H)
                if dropout > 0:
                    for i in range(ref.H):
                        mask[i] = 0.0 if lane.rng.uniform() < p else scale
                masks[b] = mask
                scored.append(b)
                rows.append((h * mask, target, lane.history))
        tenths = (positions + len(active)) // 10 - positions // 10
        positions += len(active)
        keep = decay ** tenths
        for b, (lp, e) in zip(scored, output_batch(ref, rows, lr, keep, direct_keep)):
            logprob += lp
            lanes[b].errs[-1] = np.clip(e * masks[b], -gradient_cutoff, gradient_cutoff)
        t += 1
        # BPTT: every due lane's sweep through the weights before this step's BPTT updates.
        block = bptt <= 1 or t % bptt_block == 0
        due = [b for b in active if block or (independent and k[b] in ends)]
        sweeps = {}
        for b in due:
            lane = lanes[b]
            n_steps = min(max_steps, len(lane.errs))
            sweep = ref.bptt_sweep(lane.states, lane.errs, lane.ins, n_steps, gradient_cutoff)
            sweeps[b] = (n_steps,) + sweep
        if due:
            w = ref.w
            w["recurrent"] = keep * w["recurrent"] + lr * sum(
                np.outer(d, x) for b in due for d, x in zip(sweeps[b][1], sweeps[b][3]))
            w["hidden_bias"] += lr * sum(d for b in due for d in sweeps[b][2])
            for b in due:
                lane = lanes[b]
                ref.embed_update(lane.ins, sweeps[b][2], sweeps[b][0], lr, keep)
                lane.errs = [np.zeros(ref.H) for _ in lane.errs]
        for b in active:
            lane = lanes[b]
            if independent and k[b] in ends:
                lane.reset()
            elif len(lane.states) > max_steps + 2:  # bounded, as the engine's ring
                del lane.states[0], lane.errs[0], lane.ins[0]
            k[b] += 1
    return logprob


class Splitmix64:
    """The engine's Rng: splitmix64; uniform() takes the top 53 bits of a draw."""

    def __init__(self, seed: int):
        self.state = seed & M64

    def uniform(self) -> float:
        draw = (mix(self.state) >> 11) * 2.0 ** -53
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        return draw


def shard_sentences(offsets, n_sentences: int, parts: int) -> list[int]:
    """csrc/corpus.cc's shard_sentences: sentence bounds of ``parts`` contiguous parts of about
    equal word counts. Part p ends at the first sentence boundary at or after p/parts of the
    words (never before the previous part's end), so parts may be empty."""
    offsets = [int(o) for o in offsets[:n_sentences + 1]]
    parts = max(1, parts)
    bounds = [0]
    total = offsets[n_sentences] - offsets[0]
    for p in range(1, parts):
        target = offsets[0] + total * p // parts
        s = min(bisect.bisect_left(offsets, target), n_sentences)
        bounds.append(max(s, bounds[-1]))
    bounds.append(n_sentences)
    return bounds
