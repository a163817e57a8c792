"""LM scores of n-best lists and rescoring: log10 -> ln, the combined total, interpolation, outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nbest_samples import synthetic_set

from rnnlm_fast import nbest as nb
from rnnlm_fast.errors import ConfigError
from rnnlm_fast.nbest import Hypothesis, NbestList, Weights
from rnnlm_fast.ngram import interpolate_log10

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


def test_mixture_weights_and_scores():
    np.testing.assert_allclose(nb.mixture_weights(None, 4), [0.25] * 4)
    w = nb.mixture_weights("0.75,0.25", 2)
    np.testing.assert_array_equal(w, [0.75, 0.25])
    mixed = nb.mix_scores([np.array([-4.0, -8.0]), np.array([-8.0, 0.0])], w)
    np.testing.assert_allclose(mixed, [-5.0, -6.0])


# --------------------------------------------------------------------------- the combined score


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
    w = Weights(lam=0.7, word_bonus=0.4, mu=0.3)
    got = nb.rescored_lists(lists, lm, w, old_lm_key="lm")[0].hyps
    want = [
        -3.0 + 0.7 * -2.0 * math.log(10) + 0.3 * -7.0 + 0.4 * 2,
        -4.0 + 0.7 * -1.5 * math.log(10) + 0.3 * -5.0 + 0.4 * 3,
    ]
    assert [h.scores["total"] for h in got] == pytest.approx(want, abs=1e-12)
    assert [h.scores["rnnlm_ln"] for h in got] == pytest.approx(log10 * math.log(10))


def test_combination_with_oov_counts():
    lists = [
        NbestList(
            "u",
            [Hypothesis("a b", {"am": -3.0}, 1), Hypothesis("a zz qq", {"am": -4.0}, 2)],
        )
    ]
    lm = nb.lm_log_probs(lists, lambda s: np.array([-2.0, -1.5]))
    n_oov = np.array([0.0, 2.0])
    w = Weights(lam=0.7, word_bonus=0.4, gamma=-1.25)
    got = nb.rescored_lists(lists, lm, w, n_oov=n_oov)[0].hyps
    want = [
        -3.0 + 0.7 * -2.0 * math.log(10) + 0.4 * 2,
        -4.0 + 0.7 * -1.5 * math.log(10) + 0.4 * 3 - 1.25 * 2,
    ]
    assert [h.scores["total"] for h in got] == pytest.approx(want, abs=1e-12)
    # gamma decides: without the OOV cost the second hypothesis wins.
    assert nb.rescore(lists, lm, Weights(lam=0.7, word_bonus=0.4), n_oov=n_oov)[0] == {"u": "a zz qq"}
    assert nb.rescore(lists, lm, w, n_oov=n_oov)[0] == {"u": "a b"}


def test_ln10_factor_changes_the_choice():
    # am difference 2.1 lies between 1 (log10 units) and ln 10 = 2.30 (natural units):
    # only the correctly converted LM score makes B win.
    lists = [NbestList("u", [Hypothesis("A", {"am": 0.0}, 1), Hypothesis("B", {"am": -2.1}, 2)])]
    lm = nb.lm_log_probs(lists, lambda s: np.array([-1.0, 0.0]))
    best, report = nb.rescore(lists, lm, Weights(lam=1.0), {"u": "B"})
    assert best == {"u": "B"}
    assert report["wer_before"] == 1.0 and report["wer_after"] == 0.0
    assert report["changed"] == 1
    assert report["weights"] == {"lam": 1.0, "word_bonus": 0.0, "mu": 0.0, "gamma": 0.0, "ngram": 0.0}
    assert nb.rescore(lists, lm, Weights(lam=0.0))[0] == {"u": "A"}


# --------------------------------------------------------------------------- interpolation


def _interpolated(rnn: list, other: list, w: float) -> np.ndarray:
    """Sentence sums of the one interpolation (rnnlm_fast.ngram), weighted as rnnlm-0.4b's -lambda:
    ``w`` is the RNN's weight."""
    with np.errstate(divide="ignore"):
        return np.array([interpolate_log10(r, np.log10(o), 1.0 - w).sum() for r, o in zip(rnn, other)])


def test_interpolation_matches_direct_computation():
    rng = np.random.default_rng(2)
    rnn = [np.log10(rng.uniform(0.01, 1.0, size=n)) for n in (1, 4, 7)]
    other = [rng.uniform(0.0, 1.0, size=n) for n in (1, 4, 7)]
    for w in (0.0, 0.3, 0.75, 1.0):
        got = _interpolated(rnn, other, w)
        want = [
            sum(
                math.log10(w * 10**a + (1 - w) * b) if w * 10**a + (1 - w) * b > 0 else -math.inf
                for a, b in zip(r, o)
            )
            for r, o in zip(rnn, other)
        ]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(_interpolated(rnn, other, 1.0), [r.sum() for r in rnn])


def test_interpolation_oov_keeps_other_share():
    got = _interpolated([np.array([-np.inf, -1.0])], [np.array([0.2, 0.1])], 0.5)
    assert got[0] == pytest.approx(math.log10(0.5 * 0.2) + math.log10(0.5 * 0.1 + 0.5 * 0.1))


def test_interpolation_checks_its_weight_once():
    for bad in (1.5, -0.1):
        with pytest.raises(ConfigError, match=r"^ngram_interpolate must be in \[0, 1\], not "):
            interpolate_log10(np.array([-1.0]), np.array([-1.0]), bad)


# --------------------------------------------------------------------------- outputs


def test_output_writers(tmp_path):
    lists, lm, refs = synthetic_set(with_old_lm=False)
    w = Weights(lam=0.45, word_bonus=1.0)
    best, _ = nb.rescore(lists, lm, w, refs)
    nb.write_one_best(tmp_path / "1best", best)
    assert nb.read_text(tmp_path / "1best") == refs
    nb.write_rescored_tsv(tmp_path / "rescored.tsv", lists, lm, w)
    back = nb.read_tsv_nbest(tmp_path / "rescored.tsv")
    assert (tmp_path / "rescored.tsv").read_text().splitlines()[0] == (
        "utt_id\trank\tam\told\trnnlm_ln\tn_words\ttotal\ttext"
    )
    flat = [h for n in back for h in n.hyps]
    np.testing.assert_allclose([h.scores["rnnlm_ln"] for h in flat], lm)
    feats = nb.build_features(lists, lm)
    np.testing.assert_allclose([h.scores["total"] for h in flat], feats.totals(w))
    # The columns are the features: total is recomputed from them and the weights.
    recomputed = [h.scores["am"] + w.lam * h.scores["rnnlm_ln"] + w.word_bonus * h.scores["n_words"]
                  for h in flat]
    np.testing.assert_allclose([h.scores["total"] for h in flat], recomputed, rtol=1e-12)
    assert [h.scores["n_words"] for h in flat] == [len(h.text.split()) for h in flat]
