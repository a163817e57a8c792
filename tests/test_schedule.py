"""The learning-rate schedule (rnnlm_fast/schedule.py): rnnlm-0.4b's halving and stopping rule."""

from __future__ import annotations

from rnnlm_fast.schedule import Schedule


def test_schedule_follows_rnnlm():
    s = Schedule(lr=0.1, min_improvement=1.003, max_epochs=20)
    assert s.after_epoch(-1000.0) and s.lr == 0.1
    assert s.after_epoch(-900.0) and s.lr == 0.1
    assert not s.after_epoch(-950.0)  # worse: restore, and start halving
    assert s.halving and s.lr == 0.05 and not s.done
    assert s.after_epoch(-800.0) and s.lr == 0.025
    assert s.after_epoch(-799.9)  # tiny improvement while halving: stop
    assert s.done and s.lr == 0.025


def test_defaults_are_rnnlm_and_say_why_they_stopped():
    """Default stopping options change nothing; the reason for stopping is recorded."""
    s = Schedule(lr=0.1, max_epochs=3)
    for lp in (-1000.0, -900.0, -800.0):
        s.after_epoch(lp, seconds=5.0)
    assert s.done and s.stop_reason == "max_epochs" and s.elapsed == 15.0 and not s.halving


def test_patience_tolerates_noisy_epochs_before_each_phase():
    s = Schedule(lr=0.1, patience=1)
    assert s.after_epoch(-1000.0)
    assert not s.after_epoch(-1001.0)  # worse: restored, but one poor epoch is tolerated
    assert not s.halving and s.lr == 0.1
    assert s.after_epoch(-900.0) and s.poor_epochs == 0  # a good epoch clears the count
    s.after_epoch(-899.9)
    s.after_epoch(-899.8)  # the second poor epoch in a row: halving starts
    assert s.halving and s.lr == 0.05 and not s.done
    s.after_epoch(-899.7)  # the first poor one while halving is tolerated too
    assert not s.done and s.lr == 0.025
    s.after_epoch(-899.6)
    assert s.done and s.stop_reason.startswith("converged")


def test_min_lr_stops_the_halving():
    s = Schedule(lr=0.1, min_improvement=1.01, min_lr=0.02)
    for lp in (-1000.0, -999.0):  # the second is poor: halving to 0.05
        s.after_epoch(lp)
    assert s.halving and s.lr == 0.05 and not s.done
    s.after_epoch(-900.0)  # 0.025: still above the floor
    assert not s.done and s.lr == 0.025
    s.after_epoch(-800.0)  # 0.0125 < 0.02: stop
    assert s.done and s.stop_reason == "the learning rate fell below min_lr"


def test_time_budget_keeps_epochs_for_the_halving_phase_and_never_overruns():
    s = Schedule(lr=0.1, time_budget=100.0, budget_halvings=3)
    epochs = []
    lp = -1000.0
    while not s.done:
        lp += 50.0  # always a clear gain: only the budget ends the constant phase
        s.after_epoch(lp, seconds=10.0)
        epochs.append((s.epoch, s.halving, s.lr))
    # After epoch 7, 30 s are left: 3 epochs of 10 s, so the halving starts; epoch 10 uses the rest.
    assert [h for _, h, _ in epochs] == [False] * 6 + [True] * 4
    assert s.epoch == 10 and s.elapsed == 100.0 and s.stop_reason.startswith("time budget")
    assert epochs[6][2] == 0.05 and epochs[8][2] == 0.0125


def test_time_budget_stops_before_an_epoch_that_would_not_fit():
    s = Schedule(lr=0.1, time_budget=25.0, budget_halvings=1)
    s.after_epoch(-1000.0, seconds=12.0)
    assert not s.done  # 13 s left: one more 12 s epoch fits, and it is the halving epoch
    assert s.halving and s.lr == 0.05
    s.after_epoch(-900.0, seconds=12.0)
    assert s.done and s.elapsed == 24.0


def test_lr_decay_sets_the_halving_phase_s_factor():
    """lr_decay divides the rate each epoch of the phase (Zaremba et al.'s gentler 1.2)."""
    s = Schedule(lr=1.0, min_improvement=1.01, lr_decay=1.25)
    s.after_epoch(-1000.0)
    s.after_epoch(-999.0)  # poor: the phase starts
    assert s.halving and s.lr == 0.8
    s.after_epoch(-900.0)
    assert s.lr == 0.8 / 1.25 and not s.done
    back = Schedule(**s.state())  # checkpointed with the rest
    assert back.lr_decay == 1.25 and back.lr == s.lr
