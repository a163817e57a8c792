"""N-best rescoring: WER, oracle, log10 -> ln, score combination, tuning, interpolation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from corpora import DATA as SHARED_DATA
from corpora import levenshtein
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlm_fast import nbest as nb
from rnnlm_fast import nbest_formats as nf

Hypothesis, NbestList, Weights = nf.Hypothesis, nf.NbestList, nb.Weights

DATA = SHARED_DATA / "nbest" / "librispeech_espnet_10best"
LN10 = math.log(10.0)




# --------------------------------------------------------------------------- WER


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
def test_hypothesis_errors_matchlevenshtein(refs, hyps):
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


# --------------------------------------------------------------------------- LM scores


def test_lm_log_probs_converts_log10_to_ln_in_one_call():
    lists = [
        NbestList("u", [Hypothesis("a", {}, 1), Hypothesis("a b", {}, 2)]),
        NbestList("v", [Hypothesis("", {}, 1)]),
    ]
    calls = []

    def score_fn(sentences):
        calls.append(list(sentences))
        return np.array([-1.0, -2.5, -0.5])

    out = nb.lm_log_probs(lists, score_fn)
    assert calls == [["a", "a b", ""]]
    np.testing.assert_allclose(out, [-math.log(10), -2.5 * math.log(10), -0.5 * math.log(10)])
    np.testing.assert_allclose(np.exp(out), [0.1, 10**-2.5, 10**-0.5])


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.array([-1.0, -2.0], dtype=np.float32), TypeError),
        ([-1.0, -2.0], TypeError),
        (np.array([-1.0]), ValueError),
        (np.array([-1.0, np.nan]), ValueError),
    ],
)
def test_lm_log_probs_checks_the_scorer(bad, error):
    lists = [NbestList("u", [Hypothesis("a", {}, 1), Hypothesis("b", {}, 2)])]
    with pytest.raises(error):
        nb.lm_log_probs(lists, lambda s: bad)


def test_count_words_excludes_sentence_marks():
    assert nb.count_words("<s> a b </s>") == 2
    assert nb.count_words("a b c") == 3
    assert nb.count_words("") == 0


def test_combination_arithmetic():
    lists = [
        NbestList(
            "u",
            [
                Hypothesis("a b </s>", {"am": -3.0, "lm": -7.0}, 1),
                Hypothesis("a c d", {"am": -4.0, "lm": -5.0}, 2),
            ],
        )
    ]
    log10 = np.array([-2.0, -1.5])
    lm = nb.lm_log_probs(lists, lambda s: log10)
    w = Weights(lam=0.7, beta=0.4, mu=0.3)
    got = nb.rescored_lists(lists, lm, w, old_lm_key="lm")[0].hyps
    want = [
        -3.0 + 0.7 * -2.0 * math.log(10) + 0.3 * -7.0 + 0.4 * 2,
        -4.0 + 0.7 * -1.5 * math.log(10) + 0.3 * -5.0 + 0.4 * 3,
    ]
    assert [h.scores["total"] for h in got] == pytest.approx(want, abs=1e-12)
    assert [h.scores["rnnlm"] for h in got] == pytest.approx(log10 * math.log(10))


def test_ln10_factor_changes_the_choice():
    # am difference 2.1 lies between 1 (log10 units) and ln 10 = 2.30 (natural units):
    # only the correctly converted LM score makes B win.
    lists = [NbestList("u", [Hypothesis("A", {"am": 0.0}, 1), Hypothesis("B", {"am": -2.1}, 2)])]
    lm = nb.lm_log_probs(lists, lambda s: np.array([-1.0, 0.0]))
    best, report = nb.rescore(lists, lm, Weights(lam=1.0), {"u": "B"})
    assert best == {"u": "B"}
    assert report["wer_before"] == 1.0 and report["wer_after"] == 0.0
    assert report["changed"] == 1
    assert nb.rescore(lists, lm, Weights(lam=0.0))[0] == {"u": "A"}


def test_mu_without_old_lm_is_an_error():
    lists = [NbestList("u", [Hypothesis("A", {"am": 0.0}, 1)])]
    with pytest.raises(ValueError, match="old LM"):
        nb.rescore(lists, np.zeros(1), Weights(lam=1.0, mu=0.5))


def test_select_best_ties_go_to_better_rank():
    lists = [NbestList("u", [Hypothesis("B", {"am": 0.0}, 2), Hypothesis("A", {"am": 0.0}, 1)])]
    feats = nb.build_features(lists, np.zeros(2))
    assert feats.texts[nb.select_best(feats, feats.am)[0]] == "A"


# --------------------------------------------------------------------------- tuning


def _synthetic_set(with_old_lm: bool):
    """Utterances whose correct hypothesis wins only on one side of a known threshold.

    Each utterance is a pair (wrong at rank 1, correct at rank 2) built so that the
    correct one wins iff ``weight > t`` or iff ``weight < t``. The thresholds close in
    on lam in (0.43, 0.47), beta in (0.92, 1.08) and, with the old LM, mu in
    (0.62, 0.68): a zero-WER basin around a known-good point. The lam and mu basins
    hold no point of the default coarse grids (steps 0.1 and 0.25).
    """
    below = {
        "lam": [0.05, 0.1, 0.2, 0.3, 0.4, 0.43],
        "beta": [-2.0, -1.0, 0.0, 0.5, 0.8, 0.92],
        "mu": [0.1, 0.3, 0.5, 0.62],
    }  # correct wins iff weight > t
    above = {
        "lam": [0.47, 0.5, 0.7, 1.0, 1.5],
        "beta": [1.08, 1.3, 1.7, 2.5],
        "mu": [0.68, 0.9, 1.5],
    }  # correct wins iff weight < t
    lists, lm, refs = [], [], {}

    def add(utt, correct, wrong):
        # (text, am, new lm, old lm); the wrong hypothesis is the first-pass 1-best.
        lists.append(
            NbestList(
                utt,
                [
                    Hypothesis(wrong[0], {"am": wrong[1], "old": wrong[3]}, 1),
                    Hypothesis(correct[0], {"am": correct[1], "old": correct[3]}, 2),
                ],
            )
        )
        lm.extend([wrong[2], correct[2]])
        refs[utt] = correct[0]

    for i, t in enumerate(below["lam"]):
        add(f"lam_gt_{i}", ("a b c", -1.0, 0.0, 0.0), ("a x c", 0.0, -1 / t, 0.0))
    for i, t in enumerate(above["lam"]):
        add(f"lam_lt_{i}", ("d e f", 0.0, -1 / t, 0.0), ("d y f", -1.0, 0.0, 0.0))
    for i, t in enumerate(below["beta"]):  # the correct one has an extra word
        add(f"beta_gt_{i}", ("g h i", -t, -1.0, 0.0), ("g h", 0.0, -1.0, 0.0))
    for i, t in enumerate(above["beta"]):  # the correct one is a word shorter
        add(f"beta_lt_{i}", ("j k", 0.0, -1.0, 0.0), ("j k z", -t, -1.0, 0.0))
    if with_old_lm:
        for i, t in enumerate(below["mu"]):
            add(f"mu_gt_{i}", ("m n", -t, -1.0, 0.0), ("m w", 0.0, -1.0, -1.0))
        for i, t in enumerate(above["mu"]):
            add(f"mu_lt_{i}", ("o p", 0.0, -1.0, -1.0), ("o v", -t, -1.0, 0.0))
    return lists, np.array(lm), refs


def test_tuning_recovers_known_lam_and_beta():
    lists, lm, refs = _synthetic_set(with_old_lm=False)
    result = nb.tune_weights(lists, lm, refs)
    assert result.wer == 0.0
    assert 0.43 < result.weights.lam < 0.47
    assert 0.92 < result.weights.beta < 1.08
    assert result.weights.mu == 0.0
    best, report = nb.rescore(lists, lm, result.weights, refs)
    assert best == refs and report["wer_after"] == 0.0 and report["wer_before"] > 0.0
    coarse = nb.tune_weights(lists, lm, refs, refine=False)
    assert coarse.wer > 0.0  # the coarse grid alone cannot reach it


def test_tuning_recovers_known_mu():
    lists, lm, refs = _synthetic_set(with_old_lm=True)
    result = nb.tune_weights(lists, lm, refs, old_lm_key="old")
    assert result.wer == 0.0
    assert 0.62 < result.weights.mu < 0.68
    assert 0.43 < result.weights.lam < 0.47
    assert 0.92 < result.weights.beta < 1.08


def test_vectorised_grid_matches_direct_rescoring():
    rng = np.random.default_rng(1)
    words = ["a", "b", "c", "d"]
    lists, refs = [], {}
    for u in range(40):
        refs[f"u{u}"] = " ".join(rng.choice(words, size=rng.integers(1, 6)))
        lists.append(
            NbestList(
                f"u{u}",
                [
                    Hypothesis(
                        " ".join(rng.choice(words, size=rng.integers(0, 7))),
                        {"am": float(rng.normal(-5, 2)), "old": float(rng.normal(-9, 3))},
                        r,
                    )
                    for r in range(1, int(rng.integers(1, 6)) + 1)
                ],
            )
        )
    lm = rng.normal(-10, 3, size=sum(len(n.hyps) for n in lists))
    for lam, beta, mu in [(0.0, 0.0, 0.0), (0.5, 1.0, 0.2), (1.3, -2.0, 0.9)]:
        tuned = nb.tune_weights(
            lists, lm, refs, old_lm_key="old", lam_grid=[lam], beta_grid=[beta], mu_grid=[mu], refine=False
        )
        _, report = nb.rescore(lists, lm, Weights(lam, beta, mu), refs, old_lm_key="old")
        assert tuned.wer == pytest.approx(report["wer_after"])
        assert tuned.ser == pytest.approx(report["ser_after"])


# --------------------------------------------------------------------------- interpolation


def test_interpolation_matches_direct_computation():
    rng = np.random.default_rng(2)
    rnn = [np.log10(rng.uniform(0.01, 1.0, size=n)) for n in (1, 4, 7)]
    other = [rng.uniform(0.0, 1.0, size=n) for n in (1, 4, 7)]
    for w in (0.0, 0.3, 0.75, 1.0):
        got = nb.interpolate_word_probs(rnn, other, w)
        want = [
            sum(
                math.log10(w * 10**a + (1 - w) * b) if w * 10**a + (1 - w) * b > 0 else -math.inf
                for a, b in zip(r, o)
            )
            for r, o in zip(rnn, other)
        ]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(nb.interpolate_word_probs(rnn, other, 1.0), [r.sum() for r in rnn])


def test_interpolation_oov_keeps_other_share():
    got = nb.interpolate_word_probs([np.array([-np.inf, -1.0])], [np.array([0.2, 0.1])], 0.5)
    assert got[0] == pytest.approx(math.log10(0.5 * 0.2) + math.log10(0.5 * 0.1 + 0.5 * 0.1))


def test_interpolation_checks_shapes_and_ranges():
    with pytest.raises(ValueError, match="must match"):
        nb.interpolate_word_probs([np.array([-1.0, -1.0])], [np.array([0.5])], 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nb.interpolate_word_probs([np.array([-1.0])], [np.array([1.5])], 0.5)
    with pytest.raises(ValueError, match="weight"):
        nb.interpolate_word_probs([np.array([-1.0])], [np.array([0.5])], 1.5)


# --------------------------------------------------------------------------- outputs


def test_output_writers(tmp_path):
    lists, lm, refs = _synthetic_set(with_old_lm=False)
    w = Weights(lam=0.45, beta=1.0)
    best, _ = nb.rescore(lists, lm, w, refs)
    nb.write_one_best(tmp_path / "1best", best)
    assert nf.read_text(tmp_path / "1best") == refs
    nb.write_rescored_tsv(tmp_path / "rescored.tsv", lists, lm, w)
    back = nf.read_tsv_nbest(tmp_path / "rescored.tsv")
    assert (tmp_path / "rescored.tsv").read_text().splitlines()[0] == (
        "utt_id\trank\tam\told\trnnlm\ttotal\ttext"
    )
    flat = [h for n in back for h in n.hyps]
    np.testing.assert_allclose([h.scores["rnnlm"] for h in flat], lm)
    feats = nb.build_features(lists, lm)
    np.testing.assert_allclose([h.scores["total"] for h in flat], feats.totals(w))


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not DATA.is_dir(), reason=f"real n-best data not present at {DATA}")
def test_real_dev_clean_wer_matches_published_figures():
    lists = nf.read_nbest(DATA / "derived" / "dev_clean.nbest.tsv")
    refs = nf.read_text(DATA / "ground_truth" / "dev_clean" / "text")
    one_best = nb.word_error_rate(refs, {n.utt_id: n.best().text for n in lists})
    assert one_best["ref_words"] == 54402
    assert round(100 * one_best["wer"], 2) == 6.12  # the data README's 1-best WER
    assert round(100 * nb.oracle_wer(lists, refs)["wer"], 2) == 4.04
