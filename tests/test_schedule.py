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
