"""Batched streams (streams=B, csrc/batch_trainer.cc) against the NumPy reference's batched
epoch (reference_streams.train_epoch_streams): every cell with and without direct connections,
dropout, independent sentences, bptt=1; and the reference's batched epoch with one stream
against its own one-stream epoch."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ACTIVATIONS, reference_of, small_model
from reference_streams import shard_sentences, train_epoch_streams

OPTS = {"lr": 0.1, "l2": 1e-3, "gradient_cutoff": 15.0, "bptt": 4, "bptt_block": 10, "independent": False}


def corpus_lines(n: int = 30, seed: int = 7) -> list[str]:
    """``n`` sentences of 1..12 words over small_model's vocabulary (unequal lengths, so the
    lanes end their sentences, and their parts, at different steps)."""
    rng = np.random.default_rng(seed)
    return [" ".join(f"w{int(i)}" for i in rng.integers(0, 25, int(rng.integers(1, 13)))) for _ in range(n)]


def check_epoch(tmp_path, activation: str, streams: int, lines=None, seed: int = 1, **opts) -> None:
    """One epoch, engine vs reference: the ln-prob sums and every weight array."""
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    enc = model.encode_sentences(lines or corpus_lines())
    opts = {**OPTS, **opts}
    stats = model.train_epoch(enc, threads=1, streams=streams, seed=seed, **opts)
    expected = train_epoch_streams(ref, enc.mapped, enc.offsets, streams=streams, seed=seed, **opts)
    assert stats.processed == len(enc.mapped)
    assert abs(stats.logprob - expected) < 1e-4 * abs(expected), (stats.logprob, expected)
    for name, w in model.weights().items():
        np.testing.assert_allclose(w, ref.w[name], rtol=1e-4, atol=1e-5, err_msg=name)
    start = small_model(tmp_path, activation)
    assert not np.allclose(start.weights()["recurrent"], model.weights()["recurrent"])


# --- the lanes -------------------------------------------------------------------------------
def test_shard_sentences_port():
    """The NumPy port splits as csrc/corpus.cc does (checked by hand on small cases)."""
    offsets = [0, 4, 7, 14, 16, 25, 27]  # 27 words
    assert shard_sentences(offsets, 6, 1) == [0, 6]
    assert shard_sentences(offsets, 6, 3) == [0, 3, 5, 6]  # targets 9 -> offsets[3]=14, 18 -> offsets[5]=25
    assert shard_sentences(offsets, 6, 4) == [0, 2, 3, 5, 6]  # targets 6, 13, 20
    # More parts than sentences: empty parts, never a bound going back.
    assert shard_sentences([0, 10, 11], 2, 4) == [0, 1, 1, 1, 2]  # targets 2, 5, 8
    # A sub-array of offsets (a thread's shard) counts from its first offset.
    assert shard_sentences([7, 14, 16, 25], 3, 2) == [0, 2, 3]


def test_reference_one_stream_is_its_one_stream_epoch(tmp_path):
    """streams=1 of the batched reference is the reference's one-stream epoch."""
    for activation, extra in [("lstm+direct", {}), ("gru", {"dropout": 0.3, "input_dropout": 0.2}),
                              ("tanh", {"independent": True, "bptt": 3, "bptt_block": 5})]:
        model = small_model(tmp_path, activation)
        a, b = reference_of(model), reference_of(model)
        enc = model.encode_sentences(corpus_lines(12))
        opts = {**OPTS, **extra}
        lp_a = a.train_epoch(enc.mapped, enc.offsets, seed=5, **opts)
        lp_b = train_epoch_streams(b, enc.mapped, enc.offsets, streams=1, seed=5, **opts)
        assert lp_a == pytest.approx(lp_b, rel=1e-12)
        for name in a.w:
            np.testing.assert_allclose(a.w[name], b.w[name], rtol=1e-8, atol=1e-10, err_msg=name)


# --- engine vs reference -------------------------------------------------------------------
@pytest.mark.parametrize("streams", [3, 4])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_streams_epoch_matches_reference(tmp_path, activation, streams):
    check_epoch(tmp_path, activation, streams)


@pytest.mark.parametrize("activation", ["sigmoid", "relu+direct", "gru", "lstm+direct"])
def test_streams_independent_matches_reference(tmp_path, activation):
    check_epoch(tmp_path, activation, 3, independent=True, bptt=3, bptt_block=5)


@pytest.mark.parametrize("activation", ["tanh", "gru+direct", "lstm"])
def test_streams_bptt1_matches_reference(tmp_path, activation):
    check_epoch(tmp_path, activation, 4, bptt=1, bptt_block=1)


@pytest.mark.parametrize("activation", ["sigmoid", "gru+direct", "lstm"])
@pytest.mark.parametrize("dropout,input_dropout", [(0.3, 0.0), (0.0, 0.3), (0.4, 0.25)])
def test_streams_dropout_matches_reference(tmp_path, activation, dropout, input_dropout):
    check_epoch(tmp_path, activation, 3, seed=12345, dropout=dropout, input_dropout=input_dropout,
                bptt=3, bptt_block=5)


def test_streams_more_lanes_than_sentences_and_unknown_words(tmp_path):
    """Empty lanes (more streams than sentences) and unscored positions (unknown words
    without <unk>: target -1, then input -1) still match."""
    lines = ["w1 w2 zzz w3 w4", "w5", "w6 w7 w8 qqq", "w9 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11"]
    check_epoch(tmp_path, "gru+direct", 6, lines=lines, bptt=3, bptt_block=4)
    check_epoch(tmp_path, "lstm", 3, lines=lines, independent=True, bptt=2, bptt_block=3)


def test_streams_are_not_one_stream(tmp_path):
    """The batched epoch really differs from the one-stream one (the checks are not vacuous)."""
    enc_lines = corpus_lines()
    one, many = small_model(tmp_path, "gru"), small_model(tmp_path, "gru")
    one.train_epoch(one.encode_sentences(enc_lines), threads=1, streams=1, **OPTS)
    many.train_epoch(many.encode_sentences(enc_lines), threads=1, streams=3, **OPTS)
    assert not np.allclose(one.weights()["recurrent"], many.weights()["recurrent"], atol=1e-5)


@pytest.mark.parametrize("activation", ["sigmoid+direct", "lstm"])
def test_streams_many_lanes_decay_several_tenths_a_step(tmp_path, activation):
    """More than 10 lanes: a step can pass two tenth words, so the L2 decay is (1 - lr*l2)^2."""
    check_epoch(tmp_path, activation, 12, lines=corpus_lines(40, seed=3), l2=2e-2)
