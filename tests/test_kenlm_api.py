"""KenLM's Python calls on an RNNLM: score(str, bos, eos), full_scores, perplexity(text=),
``in``, order, and the state API (BeginSentenceWrite / NullContextWrite / BaseScore), with
``<s>`` and case handled as documented in rnnlm_fast/kenlm_api.py."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import CELLS

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.errors import ConfigError, MissingFileError, OovWarning
from rnnlm_fast.kenlm_api import UNBOUNDED_ORDER, State

SENTENCE = "the noun1 verb1 the noun2"


def _randomised(vocab: Vocabulary, cell: str, direct: int, direction: str = "forward") -> RNNLM:
    """A model with every weight non-zero (the direct table included), so every path counts."""
    model = RNNLM(vocab, hidden=8, cell=cell, seed=3, direct=direct, direct_order=3, direction=direction)
    rng = np.random.default_rng(5)
    for w in model.weights().values():
        w[...] = rng.normal(0.0, 0.4, w.shape)
    return model


@pytest.mark.parametrize("direct", [0, 512])
@pytest.mark.parametrize("cell", CELLS)
def test_stepping_word_by_word_is_word_logprobs_bit_for_bit(toy_vocab, cell, direct):
    model = _randomised(toy_vocab, cell, direct)
    sentences = [SENTENCE, "verb2 the noun3 notaword verb1 the", "", "</s> the"]
    for sentence in sentences:
        want = model.word_logprobs(sentence, max_oov_rate=1.0)
        state, out = State(), State()
        model.BeginSentenceWrite(state)
        got = []
        for word in sentence.split() + ["</s>"]:
            got.append(model.BaseScore(state, word, out))
            state, out = out, state
        assert np.array_equal(np.array(got), want), (cell, direct, sentence)
        full = list(model.full_scores(sentence, max_oov_rate=1.0))
        assert np.array_equal(np.array([p for p, _, _ in full]), want)


def test_base_score_leaves_in_state_alone_and_states_compare(toy_vocab):
    model = _randomised(toy_vocab, "lstm", 256)
    start, a, b = State(), State(), State()
    model.begin_sentence_write(start)
    first = model.base_score(start, "the", a)
    again = model.base_score(start, "the", b)  # start unchanged: the same score, the same state
    assert first == again and a == b and hash(a) == hash(b) and a != start
    model.base_score(a, "noun1", a)  # in_state may be out_state
    assert a != b and a.length == 2
    c = copy.copy(b)
    assert c == b and c._core is not b._core


def test_null_context_is_bos_false(toy_vocab):
    model = _randomised(toy_vocab, "gru", 0)
    with_bos, without = model.score(SENTENCE), model.score(SENTENCE, bos=False)
    assert isinstance(without, float) and without != with_bos
    state, out = State(), State()
    model.NullContextWrite(state)
    total = 0.0
    for word in SENTENCE.split() + ["</s>"]:
        total += model.BaseScore(state, word, out)
        state, out = out, state
    assert total == pytest.approx(without, abs=1e-12)


def test_score_full_scores_and_perplexity_of_a_str(toy_vocab):
    model = _randomised(toy_vocab, "sigmoid", 256)
    per_word = model.word_logprobs(SENTENCE)
    assert model.score(SENTENCE) == float(model.score([SENTENCE])[0])
    assert model.score(SENTENCE, eos=False) == pytest.approx(per_word[:-1].sum(), abs=1e-12)
    full = list(model.full_scores(SENTENCE))
    n = len(SENTENCE.split())
    assert len(full) == n + 1
    # ngram_length: <s>, the words before and the word itself, never capped
    assert [length for _, length, _ in full] == list(range(2, n + 3))
    assert not any(oov for _, _, oov in full)
    assert [length for _, length, _ in model.full_scores(SENTENCE, bos=False)] == list(range(1, n + 2))
    assert len(list(model.full_scores(SENTENCE, eos=False))) == n
    ppl = model.perplexity(text=SENTENCE)
    assert isinstance(ppl, float) and ppl == pytest.approx(10 ** (-model.score(SENTENCE) / (n + 1)))
    assert model.order == UNBOUNDED_ORDER


def test_oov_flag_and_list_form_unchanged(toy_vocab):
    model = _randomised(toy_vocab, "tanh", 0)
    flags = [oov for _, _, oov in model.full_scores("the notaword verb1")]
    assert flags == [False, True, False, False]
    batch = model.score([SENTENCE, "the noun2"])
    assert isinstance(batch, np.ndarray) and batch.dtype == np.float64 and batch.shape == (2,)
    with pytest.raises(ConfigError, match="bos and eos"):
        model.score([SENTENCE], bos=False)


def test_in_and_leading_bos(toy_vocab):
    model = _randomised(toy_vocab, "relu", 0)
    assert "noun1" in model and "notaword" not in model and "<s>" in model and "</s>" in model
    assert 3 not in model and None not in model
    # a leading <s> is the sentence start, as KenLM reads it, in every call that takes text
    assert model.score("<s> " + SENTENCE) == model.score(SENTENCE)
    assert np.array_equal(model.score(["<s> " + SENTENCE]), model.score([SENTENCE]))
    assert np.array_equal(model.next_word_distribution("<s> the"), model.next_word_distribution(["the"]))
    with pytest.warns(OovWarning, match="<s>"):  # anywhere else it is no sentence start
        model.score(["the <s> noun1"])


def test_next_word_distribution_takes_a_str(toy_vocab):
    model = _randomised(toy_vocab, "sigmoid", 0)
    assert np.array_equal(model.next_word_distribution("the noun1"),
                          model.next_word_distribution(["the", "noun1"]))
    assert np.array_equal(model.next_word_distribution("THE NOUN1", case="lower"),
                          model.next_word_distribution(["the", "noun1"]))


def test_perplexity_str_is_a_file_and_text_is_a_sentence(toy, toy_vocab):
    model = _randomised(toy_vocab, "sigmoid", 0)
    assert model.perplexity(str(toy["test"])).ppl == model.perplexity(toy["test"]).ppl
    with pytest.raises(MissingFileError, match="text="):
        model.perplexity("the noun1 verb1")
    with pytest.raises(ConfigError):
        model.perplexity(toy["test"], text=SENTENCE)


def test_backward_models_refuse_the_state_api_and_score_whole_sentences(toy_vocab):
    model = _randomised(toy_vocab, "gru", 256, direction="backward")
    with pytest.raises(ConfigError, match="backward"):
        model.begin_sentence_write(State())
    with pytest.raises(ConfigError, match="backward"):
        model.score(SENTENCE, bos=False)
    full = list(model.full_scores(SENTENCE))
    assert np.array_equal(np.array([p for p, _, _ in full]), model.word_logprobs(SENTENCE))
    n = len(SENTENCE.split())  # the context of a backward model's word: the words after it
    assert [length for _, length, _ in full] == list(range(n + 1, 1, -1)) + [n + 2]


def test_state_misuse_is_refused(toy_vocab):
    model, other = _randomised(toy_vocab, "sigmoid", 0), _randomised(toy_vocab, "sigmoid", 0)
    with pytest.raises(ConfigError, match="in_state"):
        model.base_score(State(), "the", State())
    s = State()
    other.begin_sentence_write(s)
    with pytest.raises(ConfigError, match="in_state"):
        model.base_score(s, "the", State())
    model.begin_sentence_write(s)
    with pytest.raises(ConfigError, match="one word"):
        model.base_score(s, "the noun1", State())


def test_a_leading_bos_is_the_start_even_with_bos_false(toy_vocab):
    model = _randomised(toy_vocab, "sigmoid", 0)
    assert list(model.full_scores("<s> " + SENTENCE, bos=False)) == list(model.full_scores(SENTENCE))
    assert model.score("<s> " + SENTENCE, bos=False) == pytest.approx(model.score(SENTENCE), abs=1e-12)
