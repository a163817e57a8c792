"""Text that does not fit the model (issue 13, item 1): ``case`` wherever text meets a model,
an OovWarning when many words are unknown (naming a case mismatch), an OovError above
``max_oov_rate`` (rnnlm_fast/encoding.py's check_oov_rate)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlm_fast import RNNLM, ConfigError, OovError, OovWarning, VocabularyMismatchError
from rnnlm_fast.kenlm_api import State

LOWER = ["the noun1 verb1", "the noun2 verb2 the noun3", "a noun1 verb3"]
UPPER = [s.upper() for s in LOWER]


@pytest.fixture
def model(toy_vocab) -> RNNLM:
    m = RNNLM(toy_vocab, hidden=8, seed=1)
    rng = np.random.default_rng(2)
    for w in m.weights().values():
        w[...] = rng.normal(0.0, 0.3, w.shape)
    return m


def test_nearly_all_unknown_is_an_error_that_names_the_case(model):
    with pytest.raises(OovError) as e:
        model.score(UPPER)
    assert isinstance(e.value, VocabularyMismatchError)
    msg = str(e.value)
    assert "11 of 11 words (100.0%)" in msg and "lowercase" in msg and "case='lower'" in msg, msg
    assert "max_oov_rate" in msg
    with pytest.warns(OovWarning, match="case='lower'"):  # allowed: scored, with the warning
        allowed = model.score(UPPER, max_oov_rate=1.0)
    assert allowed.shape == (3,)


def test_case_maps_the_text_in_every_call(model, tmp_path):
    assert np.array_equal(model.score(UPPER, case="lower"), model.score(LOWER))
    assert model.score(UPPER[0], case="lower") == model.score(LOWER[0])
    assert list(model.full_scores(UPPER[1], case="lower")) == list(model.full_scores(LOWER[1]))
    assert np.array_equal(model.word_logprobs(UPPER[1], case="lower"), model.word_logprobs(LOWER[1]))
    got, want = model.score_words(UPPER, case="lower"), model.score_words(LOWER)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))
    assert model.perplexity(text=UPPER[2], case="lower") == model.perplexity(text=LOWER[2])
    assert np.array_equal(model.next_word_distribution("THE NOUN1", case="lower"),
                          model.next_word_distribution("the noun1"))
    upper, lower = tmp_path / "upper.txt", tmp_path / "lower.txt"
    upper.write_text("\n".join(UPPER) + "\n", encoding="utf-8")
    lower.write_text("\n".join(LOWER) + "\n", encoding="utf-8")
    assert model.perplexity(upper, case="lower").ppl == model.perplexity(lower).ppl
    with pytest.raises(OovError, match="case='lower'"):
        model.perplexity(upper)
    s, out = State(), State()
    model.begin_sentence_write(s)
    assert model.base_score(s, "THE", out, case="lower") == model.word_logprobs("the noun1")[0]
    with pytest.raises(ConfigError, match="case"):
        model.score(LOWER, case="title")


def test_many_unknown_words_warn_a_few_do_not(model):
    model.score(["the noun1 zzz verb1"])  # one unknown word in a short sentence: no warning
    many = [f"the noun1 zzz{i} verb1" for i in range(12)]  # 25%, 12 words
    with pytest.warns(OovWarning, match=r"12 of 48 words \(25.0%\)"):
        model.score(many)
    with pytest.warns(OovWarning, match="not in the model's vocabulary"):
        model.score(["zzz yyy the"])  # above 50%: a warning however short the text
    with pytest.raises(OovError):
        model.score(many, max_oov_rate=0.2)
    with pytest.raises(ConfigError, match="max_oov_rate"):
        model.score(many, max_oov_rate=1.5)
