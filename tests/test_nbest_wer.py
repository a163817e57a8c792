"""Word error rates: hand-computed cases, a Levenshtein oracle, oracle WER, the published figures."""

from __future__ import annotations

import pytest
from corpora import levenshtein
from hypothesis import given, settings
from hypothesis import strategies as st
from nbest_samples import ESPNET_10BEST, needs_espnet_data

from rnnlm_fast import nbest as nb
from rnnlm_fast.nbest import Hypothesis, NbestList


def test_wer_hand_computed():
    refs = {"a": "the cat sat", "b": "hello world"}
    hyps = {"a": "the cat sat", "b": "hello word there"}  # 1 substitution, 1 insertion
    r = nb.word_error_rate(refs, hyps)
    assert (r["substitutions"], r["deletions"], r["insertions"]) == (1, 0, 1)
    assert r["errors"] == 2 and r["ref_words"] == 5
    assert r["wer"] == pytest.approx(2 / 5)
    assert r["ser"] == pytest.approx(1 / 2)


def test_wer_empty_sides_and_words_not_characters():
    refs = {"a": "a b c", "b": "", "c": "abc"}
    hyps = {"a": "", "b": "x y", "c": "abd"}  # 3 deletions, 2 insertions, 1 substitution
    r = nb.word_error_rate(refs, hyps)
    assert (r["substitutions"], r["deletions"], r["insertions"]) == (1, 3, 2)
    assert r["wer"] == pytest.approx(6 / 4)
    assert r["sentence_errors"] == 3


def test_wer_rejects_different_utterances():
    with pytest.raises(ValueError, match="only in references"):
        nb.word_error_rate({"a": "x", "b": "y"}, {"a": "x", "c": "y"})


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.lists(st.lists(st.sampled_from("abc"), max_size=7), min_size=1, max_size=6),
    st.lists(st.lists(st.sampled_from("abcd"), max_size=7), min_size=1, max_size=6),
)
def test_hypothesis_errors_match_levenshtein(refs, hyps):
    n = min(len(refs), len(hyps))
    refs, hyps = refs[:n], hyps[:n]
    got = nb.hypothesis_errors([" ".join(r) for r in refs], [" ".join(h) for h in hyps])
    assert got.tolist() == [levenshtein(r, h) for r, h in zip(refs, hyps)]


def test_oracle_wer():
    lists = [
        NbestList("u1", [Hypothesis("a x c", {"am": 0.0}, 1), Hypothesis("a b c", {"am": -1.0}, 2)]),
        NbestList("u2", [Hypothesis("d", {"am": 0.0}, 1), Hypothesis("d e f", {"am": -1.0}, 2)]),
    ]
    refs = {"u1": "a b c", "u2": "d e"}
    # Best of two: u1 perfect, u2 "d" (1 deletion) ties "d e f" (1 insertion); 1 error in 5.
    assert nb.oracle_wer(lists, refs)["wer"] == pytest.approx(1 / 5)
    # Oracle@1 is the first-pass 1-best: 1 + 1 errors.
    assert nb.oracle_wer(lists, refs, n=1)["wer"] == pytest.approx(2 / 5)


def test_count_words_excludes_sentence_marks():
    assert nb.count_words("<s> a b </s>") == 2
    assert nb.count_words("a b c") == 3
    assert nb.count_words("") == 0


@needs_espnet_data
def test_real_dev_clean_wer_matches_published_figures():
    lists = nb.read_nbest(ESPNET_10BEST / "derived" / "dev_clean.nbest.tsv")
    refs = nb.read_text(ESPNET_10BEST / "ground_truth" / "dev_clean" / "text")
    one_best = nb.word_error_rate(refs, {n.utt_id: n.best().text for n in lists})
    assert one_best["ref_words"] == 54402
    assert round(100 * one_best["wer"], 2) == 6.12  # the data README's 1-best WER
    assert round(100 * nb.oracle_wer(lists, refs)["wer"], 2) == 4.04
