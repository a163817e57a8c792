"""The option table (rnnlm_fast/options.py): a value that breaks an option's rule is a ConfigError
naming the option, whichever entry point takes it (model, vocabulary, training, scoring,
generation), and a refused training run changes nothing."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from rnnlm_fast import RNNLM, ConfigError, Vocabulary, options, options_cli


@pytest.mark.parametrize("kwargs", [{"hidden": 0}, {"hidden": -3}, {"hidden": 2.5}, {"hidden": 200_000},
                                    {"cell": "foo"}, {"cell": "Sigmoid"}])
def test_bad_model_options(toy_vocab, kwargs):
    with pytest.raises(ConfigError):
        RNNLM(toy_vocab, **kwargs)


@pytest.mark.parametrize("kwargs", [{"classes": 0}, {"classes": -2}, {"min_count": 0}, {"max_size": -1}])
def test_bad_vocabulary_options(toy, kwargs):
    with pytest.raises(ConfigError):
        Vocabulary.from_corpus(toy["train"], **kwargs)


def test_bad_class_method(toy, toy_vocab):
    with pytest.raises(ConfigError, match="class_method"):
        Vocabulary.from_corpus(toy["train"], class_method="log")
    with pytest.raises(ConfigError):
        toy_vocab.with_classes(0)


@pytest.mark.parametrize("kwargs", [{"lr": -1}, {"lr": 0}, {"lr": float("nan")}, {"lr": float("inf")},
                                    {"threads": -1}, {"bptt": 0}, {"bptt_block": 0}, {"l2": -1.0},
                                    {"gradient_cutoff": 0.0}, {"max_epochs": 0}, {"min_improvement": 0.5},
                                    {"on_divergence": "ignore"}])
def test_bad_training_options_change_nothing(toy, toy_model, kwargs):
    before = {k: v.copy() for k, v in toy_model.weights().items()}
    with pytest.raises(ConfigError):
        toy_model.train(toy["train"], toy["valid"], max_epochs=kwargs.pop("max_epochs", 1), progress=False,
                        **kwargs)
    assert all(np.array_equal(before[k], v) for k, v in toy_model.weights().items())


@pytest.mark.parametrize("option", ["dropout", "input_dropout"])
@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_dropout_is_a_config_error(corpus, valid_corpus, option, bad):
    model = RNNLM(Vocabulary.from_corpus(corpus, classes=8), hidden=8)
    with pytest.raises(ConfigError, match=f"^{option} must be"):
        model.train(corpus, valid_corpus, progress=False, **{option: bad})


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "fast"])
def test_bad_dynamic_rate_is_a_config_error(toy_model, toy, bad):
    with pytest.raises(ConfigError, match="dynamic"):
        toy_model.perplexity(toy["valid"], dynamic=bad)


def test_bad_generation_options(toy_model):
    with pytest.raises(ConfigError):
        toy_model.generate(2, temperature=0)
    with pytest.raises(ConfigError):
        toy_model.generate(2, max_words=0)


@pytest.mark.parametrize("text,seconds", [("5400", 5400.0), ("90m", 5400.0), ("3h", 10800.0),
                                          ("1.5H", 5400.0), ("45s", 45.0), ("0", 0.0)])
def test_time_budget_flag_takes_units(text, seconds):
    assert options.parse_duration(text) == seconds
    p = argparse.ArgumentParser()
    options_cli.add_arguments(p, ["time_budget"])
    assert p.parse_args(["--time-budget", text]).time_budget == seconds


@pytest.mark.parametrize("text", ["3d", "h", "-5m", "inf", "soon"])
def test_time_budget_flag_refuses_nonsense(text):
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        options.parse_duration(text)
