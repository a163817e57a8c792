"""The OOV-count feature of n-best rescoring: ``total = ... + gamma * n_oov``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnlm_fast import nbest as nb
from rnnlm_fast.nbest_formats import Hypothesis, NbestList

Weights = nb.Weights


def test_weights_keep_their_positional_order():
    w = Weights(0.5, 1.0, 0.2)
    assert (w.lam, w.beta, w.mu, w.gamma) == (0.5, 1.0, 0.2, 0.0)


def test_combination_with_oov_counts():
    lists = [
        NbestList(
            "u",
            [Hypothesis("a b", {"am": -3.0}, 1), Hypothesis("a zz qq", {"am": -4.0}, 2)],
        )
    ]
    lm = nb.lm_log_probs(lists, lambda s: np.array([-2.0, -1.5]))
    n_oov = np.array([0.0, 2.0])
    w = Weights(lam=0.7, beta=0.4, gamma=-1.25)
    got = nb.rescored_lists(lists, lm, w, n_oov=n_oov)[0].hyps
    want = [
        -3.0 + 0.7 * -2.0 * math.log(10) + 0.4 * 2,
        -4.0 + 0.7 * -1.5 * math.log(10) + 0.4 * 3 - 1.25 * 2,
    ]
    assert [h.scores["total"] for h in got] == pytest.approx(want, abs=1e-12)
    # gamma decides: without the OOV cost the second hypothesis wins.
    assert nb.rescore(lists, lm, Weights(lam=0.7, beta=0.4), n_oov=n_oov)[0] == {"u": "a zz qq"}
    assert nb.rescore(lists, lm, w, n_oov=n_oov)[0] == {"u": "a b"}


def test_gamma_without_oov_counts_is_an_error():
    lists = [NbestList("u", [Hypothesis("A", {"am": 0.0}, 1)])]
    with pytest.raises(ValueError, match="OOV counts"):
        nb.rescore(lists, np.zeros(1), Weights(lam=1.0, gamma=-2.0))


@pytest.mark.parametrize(
    ("n_oov", "message"),
    [(np.zeros(3), r"OOV counts for 2 hypotheses"), (np.array([0.0, -1.0]), "non-negative")],
)
def test_oov_counts_are_checked(n_oov, message):
    lists = [NbestList("u", [Hypothesis("A", {"am": 0.0}, 1), Hypothesis("B", {"am": -1.0}, 2)])]
    with pytest.raises(ValueError, match=message):
        nb.build_features(lists, np.zeros(2), n_oov=n_oov)


def _gamma_set():
    """Pairs (wrong at rank 1, correct at rank 2) that pin gamma into (-3.4, -3.1).

    Both hypotheses of a pair have the same LM score and length, so only gamma matters.
    Neither bound is a point of the default coarse grid (-10..2 step 1).
    """
    lists, refs = [], {}
    # The correct hypothesis has an OOV word (a rare real word): it wins iff gamma > t.
    for i, t in enumerate([-9.0, -6.0, -4.0, -3.4]):
        lists.append(
            NbestList(f"gt{i}", [Hypothesis("a b", {"am": 0.0}, 1), Hypothesis("a zz", {"am": -t}, 2)])
        )
        refs[f"gt{i}"] = "a zz"
    # The wrong hypothesis has a BPE non-word: the correct one wins iff gamma < t.
    for i, t in enumerate([-3.1, -2.0, 0.0, 1.5]):
        lists.append(
            NbestList(f"lt{i}", [Hypothesis("c qq", {"am": 0.0}, 1), Hypothesis("c d", {"am": t}, 2)])
        )
        refs[f"lt{i}"] = "c d"
    n_oov = np.array([0, 1] * 4 + [1, 0] * 4, dtype=np.float64)
    return lists, np.full(len(n_oov), -5.0), refs, n_oov


def test_tuning_recovers_known_gamma():
    lists, lm, refs, n_oov = _gamma_set()
    result = nb.tune_weights(lists, lm, refs, n_oov=n_oov)
    assert result.wer == 0.0
    assert -3.4 < result.weights.gamma < -3.1
    best, report = nb.rescore(lists, lm, result.weights, refs, n_oov=n_oov)
    assert best == refs and report["wer_after"] == 0.0 and report["wer_before"] > 0.0
    assert report["weights"]["gamma"] == result.weights.gamma
    assert nb.tune_weights(lists, lm, refs, n_oov=n_oov, refine=False).wer > 0.0


def test_gamma_is_not_searched_without_oov_counts():
    lists, lm, refs, _ = _gamma_set()
    result = nb.tune_weights(lists, lm, refs)
    assert result.weights.gamma == 0.0 and result.wer > 0.0


def test_single_gamma_value_fixes_it():
    lists, lm, refs, n_oov = _gamma_set()
    result = nb.tune_weights(lists, lm, refs, n_oov=n_oov, gamma_grid=[-7.0])
    assert result.weights.gamma == -7.0


def test_vectorised_grid_with_gamma_matches_direct_rescoring():
    rng = np.random.default_rng(3)
    words = ["a", "b", "c", "d"]
    lists, refs = [], {}
    for u in range(40):
        refs[f"u{u}"] = " ".join(rng.choice(words, size=rng.integers(1, 6)))
        hyps = [
            Hypothesis(
                " ".join(rng.choice(words, size=rng.integers(0, 7))), {"am": float(rng.normal(-5, 2))}, r
            )
            for r in range(1, int(rng.integers(1, 6)) + 1)
        ]
        lists.append(NbestList(f"u{u}", hyps))
    n = sum(len(x.hyps) for x in lists)
    lm = rng.normal(-10, 3, size=n)
    n_oov = rng.integers(0, 3, size=n).astype(np.float64)
    for lam, beta, gamma in [(0.0, 0.0, 0.0), (0.5, 1.0, -2.0), (1.3, -2.0, 1.0)]:
        tuned = nb.tune_weights(
            lists, lm, refs, n_oov=n_oov, lam_grid=[lam], beta_grid=[beta], gamma_grid=[gamma], refine=False
        )
        _, report = nb.rescore(lists, lm, Weights(lam, beta, gamma=gamma), refs, n_oov=n_oov)
        assert tuned.wer == pytest.approx(report["wer_after"])
        assert tuned.ser == pytest.approx(report["ser_after"])
