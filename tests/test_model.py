"""The model object (rnnlm_fast/model.py): it needs a Vocabulary, is seeded, and survives a save
and load with identical weights, scores and history."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import CLASSES, HIDDEN, same_model, trained

from rnnlm_fast import RNNLM, ConfigError, Vocabulary


def test_model_needs_a_vocabulary():
    with pytest.raises(ConfigError):
        RNNLM(["</s>", "a"], hidden=HIDDEN)


def test_model_round_trip(toy):
    m = RNNLM.load(toy["model"])
    assert m.hidden == HIDDEN and m.n_classes == CLASSES
    assert same_model(m, RNNLM(Vocabulary.from_corpus(toy["train"], classes=CLASSES), hidden=HIDDEN, seed=1))


def test_save_load_gives_identical_scores(tmp_path, corpus, valid_corpus):
    model = trained(corpus, valid_corpus)
    path = tmp_path / "m.rnnlm"
    model.save(path)
    loaded = RNNLM.load(path)
    assert loaded.vocab == model.vocab
    assert loaded.activation == model.activation and loaded.hidden == model.hidden
    sentences = ["w1 w2 w3", "w9 unknownword w4", ""]
    assert np.array_equal(loaded.score(sentences), model.score(sentences))
    assert loaded.perplexity(valid_corpus).ppl == model.perplexity(valid_corpus).ppl
    assert [vars(r) for r in loaded.history] == [vars(r) for r in model.history]
    assert not list(tmp_path.glob(".*.tmp"))
