"""Score combination and weight tuning: Weights, features, best choice, grid search, old names."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from nbest_samples import random_lists, synthetic_set

from rnnlm_fast import nbest as nb
from rnnlm_fast.nbest import Hypothesis, NbestList, Weights

# --------------------------------------------------------------------------- Weights and features


def test_weights_keep_their_positional_order():
    w = Weights(0.5, 1.0, 0.2)
    assert (w.lam, w.word_bonus, w.mu, w.gamma) == (0.5, 1.0, 0.2, 0.0)
    assert dataclasses.asdict(w) == {"lam": 0.5, "word_bonus": 1.0, "mu": 0.2, "gamma": 0.0, "ngram": 0.0}
    assert dataclasses.replace(w, gamma=-1.0) == Weights(0.5, 1.0, 0.2, -1.0)


def test_mu_without_old_lm_is_an_error():
    lists = [NbestList("u", [Hypothesis("A", {"am": 0.0}, 1)])]
    with pytest.raises(ValueError, match="old LM"):
        nb.rescore(lists, np.zeros(1), Weights(lam=1.0, mu=0.5))


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


def test_select_best_ties_go_to_better_rank():
    lists = [NbestList("u", [Hypothesis("B", {"am": 0.0}, 2), Hypothesis("A", {"am": 0.0}, 1)])]
    feats = nb.build_features(lists, np.zeros(2))
    assert feats.texts[nb.select_best(feats, feats.am)[0]] == "A"


# --------------------------------------------------------------------------- tuning


def test_tuning_recovers_known_lam_and_word_bonus():
    lists, lm, refs = synthetic_set(with_old_lm=False)
    result = nb.tune_weights(lists, lm, refs)
    assert result.wer == 0.0
    assert 0.43 < result.weights.lam < 0.47
    assert 0.92 < result.weights.word_bonus < 1.08
    assert result.weights.mu == 0.0
    best, report = nb.rescore(lists, lm, result.weights, refs)
    assert best == refs and report["wer_after"] == 0.0 and report["wer_before"] > 0.0
    coarse = nb.tune_weights(lists, lm, refs, refine=False)
    assert coarse.wer > 0.0  # the coarse grid alone cannot reach it


def test_tuning_recovers_known_mu():
    lists, lm, refs = synthetic_set(with_old_lm=True)
    result = nb.tune_weights(lists, lm, refs, old_lm_key="old")
    assert result.wer == 0.0
    assert 0.62 < result.weights.mu < 0.68
    assert 0.43 < result.weights.lam < 0.47
    assert 0.92 < result.weights.word_bonus < 1.08


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


@pytest.mark.parametrize("feature", ["mu", "gamma"])
def test_vectorised_grid_matches_direct_rescoring(feature):
    """One grid point evaluated by the vectorised search gives rescore's WER and SER, with the
    old-LM feature (mu) or the OOV feature (gamma)."""
    rng, lists, refs = random_lists(seed=1 if feature == "mu" else 3, with_old_lm=feature == "mu")
    n = sum(len(x.hyps) for x in lists)
    lm = rng.normal(-10, 3, size=n)
    if feature == "mu":
        extra: dict = {"old_lm_key": "old"}
        settings = [Weights(0.0, 0.0, 0.0), Weights(0.5, 1.0, 0.2), Weights(1.3, -2.0, 0.9)]
    else:
        extra = {"n_oov": rng.integers(0, 3, size=n).astype(np.float64)}
        settings = [
            Weights(0.0, 0.0, gamma=0.0),
            Weights(0.5, 1.0, gamma=-2.0),
            Weights(1.3, -2.0, gamma=1.0),
        ]
    for w in settings:
        grids = {"lam_grid": [w.lam], "word_bonus_grid": [w.word_bonus], "mu_grid": [w.mu]}
        tuned = nb.tune_weights(lists, lm, refs, refine=False, gamma_grid=[w.gamma], **grids, **extra)
        _, report = nb.rescore(lists, lm, w, refs, **extra)
        assert tuned.wer == pytest.approx(report["wer_after"])
        assert tuned.ser == pytest.approx(report["ser_after"])


# --------------------------------------------------------------------------- the old name, beta


def test_weights_beta_keyword_is_a_deprecated_word_bonus():
    with pytest.warns(DeprecationWarning, match="use word_bonus"):
        w = Weights(lam=0.7, beta=0.4, mu=0.3)
    assert w == Weights(0.7, word_bonus=0.4, mu=0.3)
    with pytest.warns(DeprecationWarning, match=r"Weights\.beta is deprecated"):
        assert w.beta == 0.4
    with pytest.raises(TypeError, match="not also its deprecated name"):
        Weights(0.7, word_bonus=0.4, beta=0.4)


def test_tune_weights_beta_grid_is_a_deprecated_word_bonus_grid():
    lists, lm, refs = synthetic_set(with_old_lm=False)
    want = nb.tune_weights(lists, lm, refs, lam_grid=[0.45], word_bonus_grid=[-1.0, 1.0], refine=False)
    with pytest.warns(DeprecationWarning, match="use word_bonus_grid"):
        got = nb.tune_weights(lists, lm, refs, lam_grid=[0.45], beta_grid=[-1.0, 1.0], refine=False)
    assert got == want and got.weights.word_bonus == 1.0
    with pytest.raises(TypeError, match="word_bonus_grid"):
        nb.tune_weights(lists, lm, refs, word_bonus_grid=[0.0], beta_grid=[0.0])


def test_default_beta_grid_is_a_deprecated_name():
    with pytest.warns(DeprecationWarning, match="DEFAULT_WORD_BONUS_GRID"):
        old = nb.DEFAULT_BETA_GRID
    assert old is nb.DEFAULT_WORD_BONUS_GRID
    with pytest.raises(AttributeError):
        nb.DEFAULT_NO_SUCH_GRID  # noqa: B018
