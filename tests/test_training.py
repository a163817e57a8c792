"""Training (rnnlm_fast/training.py over csrc/trainer.cc): one epoch against the NumPy reference,
the Trainer's epochs, seeding, dropout, threads, Ctrl-C, and divergence with rollback."""

from __future__ import annotations

import math
import os
import signal
import threading
import time

import numpy as np
import pytest
from corpora import data_path
from helpers import ACTIVATIONS, BOOKS, HIDDEN, reference_of, same_model, small_model, trained

from rnnlm_fast import RNNLM, DivergenceError, Trainer, Vocabulary, options


# --- one epoch against the reference -----------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("bptt,block,independent", [(4, 10, False), (1, 1, False), (3, 5, True)])
def test_training_epoch_matches_reference(tmp_path, activation, bptt, block, independent):
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    enc = model.encode_sentences(["w1 w2 w3 w4", "w5 w6 w1", "w2 w2 w2 w9 w1 w0 w3", "w4 w4",
                                  "w7 w8 w9 w1 w2 w3 w4 w5 w6", "w3 w1"])
    opts = dict(lr=0.1, l2=1e-3, gradient_cutoff=15.0, bptt=bptt, bptt_block=block, independent=independent)
    stats = model.train_epoch(enc, threads=1, **opts)
    expected_logprob = ref.train_epoch(enc.mapped, enc.offsets, **opts)
    assert stats.processed == len(enc.mapped)
    assert abs(stats.logprob - expected_logprob) < 1e-4 * abs(expected_logprob)
    for name, w in model.weights().items():
        np.testing.assert_allclose(w, ref.w[name], rtol=1e-4, atol=1e-5, err_msg=name)
    # The update really moved the weights (the comparison is not vacuous).
    start = small_model(tmp_path, activation)
    assert not np.allclose(start.weights()["recurrent"], model.weights()["recurrent"])


@pytest.mark.parametrize("activation", ["sigmoid", "gru", "lstm", "gru+direct"])
@pytest.mark.parametrize("dropout,input_dropout", [(0.3, 0.0), (0.6, 0.0), (0.0, 0.3), (0.4, 0.25)])
def test_training_epoch_with_dropout_matches_reference(tmp_path, activation, dropout, input_dropout):
    model = small_model(tmp_path, activation)
    ref = reference_of(model)
    enc = model.encode_sentences(["w1 w2 w3 w4", "w5 w6 w1", "w2 w2 w2 w9 w1 w0 w3", "w7 w8 w9 w1 w2 w3 w4"])
    opts = dict(lr=0.1, l2=1e-3, gradient_cutoff=15.0, bptt=3, bptt_block=5, independent=False,
                dropout=dropout, input_dropout=input_dropout)
    stats = model.train_epoch(enc, threads=1, seed=12345, **opts)
    expected_logprob = ref.train_epoch(enc.mapped, enc.offsets, seed=12345, **opts)
    assert abs(stats.logprob - expected_logprob) < 1e-4 * abs(expected_logprob)
    for name, w in model.weights().items():
        np.testing.assert_allclose(w, ref.w[name], rtol=1e-4, atol=1e-5, err_msg=name)
    # the masks matter: the same epoch without dropout ends elsewhere
    plain = small_model(tmp_path, activation)
    plain.train_epoch(enc, threads=1, **{**opts, "dropout": 0, "input_dropout": 0})
    assert not np.allclose(plain.weights()["word_w"], model.weights()["word_w"], atol=1e-5)


# --- the Trainer ---------------------------------------------------------------------------
def test_training_lowers_validation_perplexity(corpus, valid_corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    model = RNNLM(vocab, hidden=16, seed=1)
    before = model.perplexity(valid_corpus).ppl
    history = model.train(corpus, valid_corpus, max_epochs=4, progress=False)
    after = model.perplexity(valid_corpus).ppl
    assert after < 0.7 * before
    assert len(history) == 4
    assert history[-1].valid_ppl == pytest.approx(after, rel=1e-6)
    assert all(r.words_per_sec > 0 and r.train_ppl > 1 for r in history)


def test_stepping_a_trainer_is_training(corpus, valid_corpus):
    """Trainer.step, epoch by epoch, gives the records and weights of RNNLM.train."""
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    whole, stepped = RNNLM(vocab, hidden=12, seed=2), RNNLM(vocab, hidden=12, seed=2)
    whole.train(corpus, valid_corpus, max_epochs=5, min_improvement=1.05, progress=False)
    values = options.resolve(options.TRAINING, dict(max_epochs=5, min_improvement=1.05))
    trainer = Trainer(stepped, corpus, valid_corpus, values, progress=False)
    records = []
    while not trainer.done:
        records.append(trainer.step())
    assert records == stepped.history and len(records) == len(whole.history) >= 2
    strip = [{k: v for k, v in vars(r).items() if k not in ("seconds", "words_per_sec")} for r in records]
    assert strip == [{k: v for k, v in vars(r).items() if k not in ("seconds", "words_per_sec")}
                     for r in whole.history]
    assert same_model(stepped, whole)
    assert stepped.train_options == whole.train_options


def test_seeded_one_thread_training_is_bit_identical(corpus, valid_corpus):
    a = trained(corpus, valid_corpus, seed=7)
    b = trained(corpus, valid_corpus, seed=7)
    for name, w in a.weights().items():
        assert np.array_equal(w, b.weights()[name]), name
    c = trained(corpus, valid_corpus, seed=8)
    assert not np.array_equal(a.weights()["recurrent"], c.weights()["recurrent"])


@pytest.mark.parametrize("option,value,changed", [("dropout", 0.3, "word_w"),
                                                  ("input_dropout", 0.2, "embed")])
def test_dropout_training_is_seeded_and_recorded(corpus, valid_corpus, tmp_path, option, value, changed):
    a = trained(corpus, valid_corpus, seed=7, **{option: value})
    b = trained(corpus, valid_corpus, seed=7, **{option: value})
    plain = trained(corpus, valid_corpus, seed=7)
    for name, w in a.weights().items():
        assert np.array_equal(w, b.weights()[name]), name
    assert not np.array_equal(a.weights()[changed], plain.weights()[changed])
    assert a.train_options[option] == value
    path = tmp_path / "d.rnnlm"
    a.save(path)
    assert RNNLM.load(path).train_options[option] == value
    # scoring never drops anything: it is deterministic and matches the saved model
    assert a.perplexity(valid_corpus).ppl == RNNLM.load(path).perplexity(valid_corpus).ppl


def test_two_threads_train_to_similar_perplexity():
    train = str(BOOKS / "books.train.txt.gz")
    valid = str(BOOKS / "books.valid.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=50, min_count=3)
    ppl = {}
    for threads in (1, 2):
        model = RNNLM(vocab, hidden=32, seed=3)
        model.train(train, valid, max_epochs=2, threads=threads, progress=False)
        ppl[threads] = model.perplexity(valid).ppl
        assert all(np.isfinite(w).all() for w in model.weights().values())
    # Hogwild is not deterministic and this model is tiny: only a clear loss would be a bug.
    assert ppl[2] < 1.15 * ppl[1], ppl


def test_ctrl_c_stops_training_quickly_and_keeps_last_good_weights():
    train = str(BOOKS / "books.train.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=50, min_count=2)
    model = RNNLM(vocab, hidden=200, seed=4)
    before = {k: v.copy() for k, v in model.weights().items()}
    stopped = threading.Event()
    sent: list[float] = []

    def press_ctrl_c():
        # Like a user: press again if nothing happened.
        time.sleep(0.5)
        while not stopped.is_set() and len(sent) < 10:
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)
            stopped.wait(1.0)

    # A shell starts background jobs with SIGINT ignored, and Python then keeps ignoring it:
    # install Python's own handler so the test does not depend on how pytest was started.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.train(train, train, max_epochs=50, progress=False)
    finally:
        stopped.set()
        presser.join()
        signal.signal(signal.SIGINT, previous)
    latency = time.perf_counter() - sent[-1]
    assert latency < 1.0, latency
    assert len(sent) == 1, f"{len(sent)} presses of Ctrl-C were needed"
    # Interrupted inside the first epoch: the last good weights are the initial ones.
    for name, w in model.weights().items():
        assert np.array_equal(w, before[name]), name


@pytest.mark.slow
def test_training_on_ptb_slice_lowers_validation_perplexity(tmp_path):
    train_full = data_path("ptb", "train.txt")
    valid_full = data_path("ptb", "valid.txt")
    lines = train_full.read_text(encoding="utf-8").splitlines()
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines[:8000]) + "\n", encoding="utf-8")
    valid = tmp_path / "valid.txt"
    valid.write_text("\n".join(valid_full.read_text(encoding="utf-8").splitlines()[:500]) + "\n",
                     encoding="utf-8")
    vocab = Vocabulary.from_corpus(train_full, classes=100)
    model = RNNLM(vocab, hidden=50, seed=1)
    initial = model.perplexity(valid).ppl
    history = model.train(train, valid, max_epochs=3, progress=False)
    assert history[0].valid_ppl < 0.35 * initial  # from near-uniform to a few hundred
    assert history[-1].valid_ppl < history[0].valid_ppl
    assert history[-1].valid_ppl < 450


# --- divergence ------------------------------------------------------------------------------
def finite(model: RNNLM) -> bool:
    return all(np.isfinite(a).all() for a in model.weights().values())


def test_divergence_raises(toy, toy_vocab):
    model = RNNLM(toy_vocab, hidden=HIDDEN, cell="relu", seed=1)
    before = {k: v.copy() for k, v in model.weights().items()}
    with pytest.raises(DivergenceError, match="diverged") as e:
        model.train(toy["train"], toy["valid"], lr=1e6, max_epochs=3, on_divergence="raise",
                    progress=False)
    assert "lr 1e+06" in str(e.value)
    assert finite(model)
    assert all(np.array_equal(before[k], v) for k, v in model.weights().items())  # last good weights


@pytest.mark.parametrize("max_rollbacks", [0, 3])
def test_rollback_gives_up(toy, toy_vocab, max_rollbacks, caplog):
    model = RNNLM(toy_vocab, hidden=HIDDEN, cell="relu", seed=1)
    with pytest.raises(DivergenceError) as e:
        model.train(toy["train"], toy["valid"], lr=1e6, max_epochs=3, max_rollbacks=max_rollbacks,
                    progress=False)
    assert "diverged" in str(e.value) and f"after {max_rollbacks} rollbacks" in str(e.value)
    assert finite(model)
    assert [r.diverged for r in model.history] == [True] * max_rollbacks
    assert [r.lr for r in model.history] == [1e6 / 2**i for i in range(max_rollbacks)]
    assert sum("diverged" in r.getMessage() for r in caplog.records) == max_rollbacks


def test_rollback_recovers(toy, toy_vocab, tmp_path):
    model = RNNLM(toy_vocab, hidden=HIDDEN, cell="relu", seed=1)
    history = model.train(toy["train"], toy["valid"], lr=64, max_epochs=2, max_rollbacks=10,
                          progress=False)
    assert history[0].diverged and not history[0].kept and math.isnan(history[0].valid_ppl)
    good = [r for r in history if not r.diverged]
    assert len(good) == 2 and all(math.isfinite(r.train_entropy) for r in good)
    assert good[0].lr < 64
    assert finite(model)
    assert math.isfinite(model.perplexity(toy["valid"]).entropy)
    model.save(tmp_path / "recovered.rnnlm")
    loaded = RNNLM.load(tmp_path / "recovered.rnnlm")
    assert same_model(loaded, model)
    assert [r.diverged for r in loaded.history] == [r.diverged for r in history]


def test_huge_but_finite_loss_gives_infinite_perplexity(toy, toy_vocab):
    """Sigmoid saturates instead of overflowing: the weights stay finite but the perplexity
    overflows a double. That must read as inf, not raise OverflowError."""
    model = RNNLM(toy_vocab, hidden=HIDDEN, cell="sigmoid", seed=1)
    history = model.train(toy["train"], toy["valid"], lr=1e3, max_epochs=2, on_divergence="raise",
                          progress=False)
    assert finite(model) and not any(r.diverged for r in history)
    assert history[0].valid_ppl == math.inf and math.isfinite(history[0].valid_entropy)
    res = model.perplexity(toy["valid"])
    assert res.ppl == math.inf and math.isfinite(res.entropy) and math.isfinite(res.log10_prob)


# --- the stopping options through train() ------------------------------------------------
# A run on the checkpoint tests' data (conftest.run_data) whose validation gain first falls
# below 1% at epoch 12 (4.4126 -> 4.3722 bits; epoch 11 gained 1.15%, epoch 13 0.7%); once the
# halving starts, gains fall below 1% again at its fourth epoch (rnnlm-0.4b's rule stops there).
STOPPING = dict(lr=0.1, bptt=3, bptt_block=5, min_improvement=1.01, max_epochs=40, threads=1)


def stopping_run(run_data, tmp_path, **opts) -> tuple[RNNLM, dict]:
    """A model trained with STOPPING (updated by ``opts``) and its final schedule state."""
    from rnnlm_fast.model_file import read_model

    train, valid, vocab = run_data
    model = RNNLM(vocab, hidden=8, seed=3)
    ckpt = tmp_path / f"run{len(list(tmp_path.glob('*.ckpt')))}.ckpt"
    model.train(train, valid, progress=False, checkpoint=ckpt, **{**STOPPING, **opts})
    return model, read_model(ckpt)[0]["checkpoint"]["schedule"]


def poor_epochs(history, min_improvement: float) -> list[bool]:
    """Which epochs gained less than ``min_improvement`` over the one before (in validation
    entropy, which is proportional to minus the log-likelihood the schedule compares)."""
    return [i > 0 and r.valid_entropy * min_improvement > history[i - 1].valid_entropy
            for i, r in enumerate(history)]


def test_patience_tolerates_a_poor_epoch_then_starts_the_halving(run_data, tmp_path):
    """patience=1: the first epoch below min_improvement keeps the rate; the second in a row starts
    the halving (the phase change); while halving, one poor epoch is tolerated and the next ends
    the run. patience=0 (rnnlm-0.4b) halves after the first poor epoch and stops at the next."""
    plain, plain_state = stopping_run(run_data, tmp_path, patience=0)
    patient, state = stopping_run(run_data, tmp_path, patience=1)
    converged = "converged: the gain while halving fell below min_improvement"
    assert plain_state["stop_reason"] == state["stop_reason"] == converged
    assert [r.lr for r in plain.history] == [0.1] * 12 + [0.05, 0.025, 0.0125, 0.00625]
    assert [r.lr for r in patient.history] == [0.1] * 13 + [0.05, 0.025, 0.0125, 0.00625, 0.003125]
    # the schedule's decisions follow the validation entropies: epoch 12 (index 11) is the first
    # poor epoch of both runs, which trained identically up to there
    poor = poor_epochs(patient.history, 1.01)
    assert poor.index(True) == 11 and poor[12] and poor_epochs(plain.history, 1.01).index(True) == 11
    assert [r.valid_entropy for r in patient.history[:12]] == [r.valid_entropy for r in plain.history[:12]]
    assert patient.history[12].lr == 0.1 and plain.history[12].lr == 0.05  # tolerated vs halved
    assert poor[-2:] == [True, True] and not any(poor[13:-2])  # the stop: two poor epochs in a row
    assert [r.epoch for r in patient.history] == list(range(1, 19)) and all(r.kept for r in patient.history)


@pytest.mark.parametrize("min_lr,epochs", [(0.02, 14), (0.0125, 15)])
def test_min_lr_stops_the_run_when_the_halving_takes_the_rate_below_it(run_data, tmp_path, min_lr, epochs):
    """The run is the one without min_lr up to the epoch whose halving takes the rate below
    min_lr (a rate equal to it still trains), and stops there with that reason, before the
    halving phase's own stop (epoch 16)."""
    full, full_state = stopping_run(run_data, tmp_path)
    model, state = stopping_run(run_data, tmp_path, min_lr=min_lr)
    assert full_state["stop_reason"].startswith("converged") and len(full.history) == 16
    assert state["stop_reason"] == "the learning rate fell below min_lr" and state["done"]
    assert [r.lr for r in model.history] == [0.1] * 12 + [0.05, 0.025, 0.0125][:epochs - 12]
    assert [(r.epoch, r.lr, r.valid_entropy) for r in model.history] == \
           [(r.epoch, r.lr, r.valid_entropy) for r in full.history[:epochs]]
    assert state["epoch"] == epochs and state["lr"] == model.history[-1].lr / 2 < min_lr
