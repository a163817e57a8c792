"""The engine's limits (csrc/engine_limits.h) are said once: the options table reads its bounds
from ``_core``, and the engine itself rejects a value one past each limit. The per-epoch options
are declared once too (csrc/trainer.h's list, exported as ``_core.EPOCH_OPTIONS``)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlm_fast import ConfigError, _core, options
from rnnlm_fast.training import engine_options

# option -> the engine's limit that bounds it
BOUNDS = {
    "hidden": "MAX_HIDDEN",
    "direct": "MAX_DIRECT_SIZE",
    "direct_order": "MAX_DIRECT_ORDER",
    "bptt": "MAX_BPTT",
    "bptt_block": "MAX_BPTT_BLOCK",
    "threads": "MAX_THREADS",
    "streams": "MAX_STREAMS",
}


@pytest.mark.parametrize("name", list(BOUNDS))
def test_the_tables_bounds_are_the_engines(name: str):
    limit = getattr(_core, BOUNDS[name])
    option = options.OPTIONS[name]
    assert option.high == limit
    assert option.check(limit) == limit
    with pytest.raises(ConfigError):
        option.check(limit + 1)


def test_the_line_limit_default_is_the_engines():
    assert options.DEFAULTS["max_line_bytes"] == _core.DEFAULT_MAX_LINE_BYTES


def _model(hidden: int = 2, direct: int = 0, direct_order: int = 0) -> _core.Model:
    return _core.Model(4, hidden, [0, 2, 4], "sigmoid", direct=direct, direct_order=direct_order,
                       direct_hash="splitmix")


def test_the_model_rejects_one_past_its_limits():
    _model(direct=64, direct_order=_core.MAX_DIRECT_ORDER)
    with pytest.raises(ConfigError, match=f"1..{_core.MAX_HIDDEN}"):
        _model(hidden=_core.MAX_HIDDEN + 1)
    with pytest.raises(ConfigError, match=f"0..{_core.MAX_DIRECT_ORDER}"):
        _model(direct=64, direct_order=_core.MAX_DIRECT_ORDER + 1)
    with pytest.raises(ConfigError, match="direct hash size above"):
        _model(direct=_core.MAX_DIRECT_SIZE + 1, direct_order=2)


def _train_options(**changes) -> _core.TrainOptions:
    values = options.resolve(options.EPOCH, {"lr": 0.1})
    o = engine_options(values, values["lr"], seed=1, threads=1)
    for name, value in changes.items():
        setattr(o, name, value)
    return o


@pytest.mark.parametrize("name", ["bptt", "bptt_block", "threads", "streams"])
def test_train_options_reject_one_past_their_limits(name: str):
    limit = getattr(_core, BOUNDS[name])
    _train_options(**{name: limit}).validate()
    with pytest.raises(ConfigError, match=f"{name} must be in 1..{limit}"):
        _train_options(**{name: limit + 1}).validate()


def _sentences(n: int, words: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.tile(np.array([1] * (words - 1) + [0], dtype=np.int32), n)
    return ids, np.arange(0, n * words + 1, words, dtype=np.int64)


def test_batch_gradient_takes_at_most_max_streams_sentences():
    model = _model()
    _core.batch_gradient(model, *_sentences(_core.MAX_STREAMS, 2))
    with pytest.raises(ConfigError, match=f"1..{_core.MAX_STREAMS} sentences"):
        _core.batch_gradient(model, *_sentences(_core.MAX_STREAMS + 1, 2))


def test_gradient_checks_take_at_most_max_gradient_words():
    model = _model()
    ids, offsets = _sentences(1, _core.MAX_GRADIENT_WORDS)
    _core.sentence_gradient(model, ids)
    _core.batch_gradient(model, ids, offsets)
    ids, offsets = _sentences(1, _core.MAX_GRADIENT_WORDS + 1)
    with pytest.raises(ConfigError, match=f"<= {_core.MAX_GRADIENT_WORDS} words"):
        _core.sentence_gradient(model, ids)
    with pytest.raises(ConfigError, match=f"<= {_core.MAX_GRADIENT_WORDS} words"):
        _core.batch_gradient(model, ids, offsets)
    assert _core.MAX_GRADIENT_WORDS + 2 <= _core.MAX_BPTT  # full BPTT of such a sentence fits


# --- the per-epoch options, declared once ---------------------------------------------------
def test_the_engines_epoch_options_are_the_tables():
    assert _core.EPOCH_OPTIONS == options.EPOCH
    o = _train_options()
    assert [name for name in dir(o) if not name.startswith("_") and name != "validate"] == sorted(
        [*options.EPOCH, "seed", "threads", "streams"])


def test_train_options_take_every_field_by_keyword_and_nothing_else():
    o = _train_options()
    fields = {name: getattr(o, name) for name in (*_core.EPOCH_OPTIONS, "seed", "threads", "streams")}
    _core.TrainOptions(**fields).validate()
    with pytest.raises(TypeError, match="unexpected keyword 'beta'"):
        _core.TrainOptions(**fields, beta=1e-6)
    with pytest.raises(TypeError, match="missing keyword 'input_dropout'"):
        _core.TrainOptions(**{k: v for k, v in fields.items() if k != "input_dropout"})
    with pytest.raises(TypeError, match="'bptt' has the wrong type"):
        _core.TrainOptions(**{**fields, "bptt": 4.5})


def test_engine_options_pass_every_epoch_option():
    values = options.resolve(options.EPOCH, {"lr": 0.1, "l2": 1e-5, "bptt": 7, "bptt_block": 3,
                                             "independent": True, "gradient_cutoff": 2.0, "dropout": 0.25,
                                             "input_dropout": 0.125})
    o = engine_options(values, 0.5, seed=9, threads=2, streams=1)
    expected = {**values, "lr": 0.5, "seed": 9, "threads": 2, "streams": 1}
    assert {name: getattr(o, name) for name in expected} == pytest.approx(expected)
