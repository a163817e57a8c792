"""Dynamic evaluation (rnnlm-0.4b's -dynamic): the model keeps learning from the text it scores."""

from __future__ import annotations

import numpy as np
import pytest
from corpora import write_corpus

from rnnlm_fast import RNNLM
from rnnlm_fast.errors import DivergenceError


def test_dynamic_zero_is_static(trained_sigmoid, valid_corpus):
    static = trained_sigmoid.perplexity(valid_corpus, per_word=True)
    same = trained_sigmoid.perplexity(valid_corpus, dynamic=0.0, per_word=True)
    assert same.ppl == static.ppl
    assert np.array_equal(same.word_log10, static.word_log10)


@pytest.mark.parametrize("independent", [False, True])
def test_dynamic_adapts_and_leaves_the_model_unchanged(trained_sigmoid, tmp_path, independent):
    text = write_corpus(tmp_path / "long.txt", 400, seed=3)
    before = {k: v.copy() for k, v in trained_sigmoid.weights().items()}
    static = trained_sigmoid.perplexity(text, independent=independent, per_word=True)
    dyn = trained_sigmoid.perplexity(text, independent=independent, dynamic=0.05, per_word=True)
    for k, v in trained_sigmoid.weights().items():
        assert np.array_equal(v, before[k]), k
    # the first word is scored before any update; later ones by the adapted copy
    assert dyn.word_log10[0] == pytest.approx(static.word_log10[0], abs=1e-9)
    assert not np.allclose(dyn.word_log10[5:], static.word_log10[5:])
    # an under-trained model gains from learning the (same-distribution) text as it goes
    assert dyn.ppl < static.ppl
    assert dyn.words == static.words and dyn.sentences == static.sentences
    # log10_prob and word_log10 agree
    assert dyn.log10_prob == pytest.approx(float(dyn.word_log10.sum()), rel=1e-9)


def test_each_sentence_is_scored_by_the_model_trained_on_the_text_before_it(trained_sigmoid, tmp_path):
    """Independent sentences: the first word of sentence j under dynamic evaluation equals its
    static score under a copy trained (one epoch, same lr and BPTT) on sentences 0..j-1."""
    text = write_corpus(tmp_path / "t.txt", 6, seed=5)
    lines = text.read_text().splitlines()
    dyn = trained_sigmoid.perplexity(text, independent=True, dynamic=0.05, per_word=True).word_log10
    starts = np.cumsum([0] + [len(line.split()) + 1 for line in lines])
    path = tmp_path / "m.rnnlm"
    trained_sigmoid.save(path)
    opts = trained_sigmoid.train_options
    for j in (1, 3, 5):
        adapted = RNNLM.load(path)
        enc = adapted.encode_sentences(lines[:j])
        adapted.train_epoch(enc, lr=0.05, l2=opts["l2"], gradient_cutoff=opts["gradient_cutoff"],
                            bptt=opts["bptt"], bptt_block=opts["bptt_block"], independent=True, threads=1)
        first = adapted.word_logprobs(lines[j])[0]
        assert first == pytest.approx(dyn[starts[j]], abs=1e-6), j
        assert first != pytest.approx(trained_sigmoid.word_logprobs(lines[j])[0], abs=1e-6)


def test_runaway_dynamic_rate_raises_divergence(trained_sigmoid, valid_corpus):
    with pytest.raises(DivergenceError, match="smaller dynamic learning rate"):
        trained_sigmoid.perplexity(valid_corpus, dynamic=1e30)

