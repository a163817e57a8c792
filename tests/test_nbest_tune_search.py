"""The automatic weight search: first-pass scores on another scale, edges beyond the hard limits,
explicit grids searched as given."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from corpora import data_path

from rnnlm_fast import nbest as nb
from rnnlm_fast.nbest import Hypothesis, NbestList, Weights
from rnnlm_fast.nbest.tune import TUNE_LIMITS, score_scale
from rnnlm_fast.nbest.wer import hypothesis_errors

# --------------------------------------------------------------------------- sample sets


def noisy_set(n_utts: int = 1000, n_hyps: int = 8, seed: int = 0) -> tuple[list[NbestList], np.ndarray, dict]:
    """Hypotheses made from a reference by random edits; the first-pass score and the LM score
    each fall with the edits, plus noise; the LM score also falls by 1.5 per word (so lam and the
    word bonus form a ridge). The best lam, ~2.7, lies beyond the old fixed grid's 2."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(300)]
    lists, lm, refs = [], [], {}
    for u in range(n_utts):
        ref = [str(w) for w in rng.choice(vocab, size=int(rng.integers(6, 18)))]
        refs[f"u{u}"] = " ".join(ref)
        hyps = []
        for _ in range(n_hyps):
            words = list(ref)
            edits = int(rng.poisson(1.5))
            for _ in range(edits):
                op, i = int(rng.integers(3)), int(rng.integers(len(words) + 1))
                if op == 0 and i < len(words):
                    words[i] = str(rng.choice(vocab))
                elif op == 1 and i < len(words) and len(words) > 1:
                    del words[i]
                else:
                    words.insert(i, str(rng.choice(vocab)))
            am = -0.5 * edits + rng.normal(0.0, 1.0)
            hyps.append((am, " ".join(words), -1.0 * edits + rng.normal(0.0, 1.0) - 1.5 * len(words)))
        hyps.sort(key=lambda h: -h[0])
        lm.extend(h[2] for h in hyps)
        lists.append(NbestList(f"u{u}", [Hypothesis(t, {"am": a}, r) for r, (a, t, _) in enumerate(hyps, 1)]))
    return lists, np.array(lm), refs


def espnet_set(n_utts: int = 1000) -> tuple[list[NbestList], np.ndarray, dict]:
    """The first utterances of the real ESPnet dev_other 10-best lists with their first-pass
    scores, and an LM score that correlates with correctness: minus the word errors, minus
    4 per word, plus seeded noise."""
    root = data_path("nbest", "librispeech_espnet_10best")
    lists = nb.read_nbest(root / "inference" / "dev_other")[:n_utts]
    refs = nb.read_text(root / "ground_truth" / "dev_other" / "text")
    refs = {x.utt_id: refs[x.utt_id] for x in lists}
    hyps = [(x.utt_id, h.text) for x in lists for h in x.hyps]
    errors = hypothesis_errors([refs[u] for u, _ in hyps], [t for _, t in hyps]).astype(np.float64)
    n_words = np.array([len(t.split()) for _, t in hyps], dtype=np.float64)
    rng = np.random.default_rng(0)
    return lists, -errors - 4.0 * n_words + rng.normal(0.0, 1.5, size=len(hyps)), refs


def scaled(lists: list[NbestList], factor: float) -> list[NbestList]:
    """The lists with every first-pass score multiplied by ``factor`` (Kaldi's unscaled costs)."""
    return [
        NbestList(x.utt_id, [Hypothesis(h.text, {"am": h.scores["am"] * factor}, h.rank) for h in x.hyps])
        for x in lists
    ]


# --------------------------------------------------------------------------- scale


@pytest.mark.parametrize("make", [noisy_set, espnet_set], ids=["synthetic", "espnet-dev_other"])
def test_acoustic_scores_times_12_tune_to_the_same_wer(make):
    """The old fixed grid (lam <= 2) tuned the x12 set to its edge, 0.2-0.5 WER points worse."""
    lists, lm, refs = make()
    plain = nb.tune_weights(lists, lm, refs)
    times12 = nb.tune_weights(scaled(lists, 12.0), lm, refs)
    assert abs(100 * times12.wer - 100 * plain.wer) <= 0.05, (plain, times12)
    assert times12.scale == pytest.approx(12 * plain.scale)
    assert times12.weights.lam == pytest.approx(12 * plain.weights.lam, rel=1e-6)
    assert times12.on_edge == plain.on_edge == ()
    first_pass = nb.rescore(lists, lm, Weights(0.0), refs)[1]["wer_after"]
    assert plain.wer < first_pass - 0.005  # the LM score helps, so the test means something


def test_scale_is_the_ratio_of_spreads():
    lists, lm, _ = noisy_set(n_utts=50)
    feats = nb.build_features(lists, lm)
    assert score_scale(nb.build_features(scaled(lists, 12.0), lm)) == pytest.approx(12 * score_scale(feats))
    assert score_scale(nb.build_features(lists, 0 * lm)) == 1.0  # an LM score that does not vary
    assert score_scale(nb.build_features(scaled(lists, -np.inf), lm)) == 1.0


def test_optimum_beyond_the_default_grid_is_found():
    """lam's best value, ~2.7, lies beyond the old grid's end: the grid is extended to it."""
    lists, lm, refs = noisy_set(n_utts=300)
    result = nb.tune_weights(lists, lm, refs)
    grid = nb.DEFAULT_LAM_GRID * result.scale
    edge = nb.tune_weights(lists, lm, refs, lam_grid=grid, refine=False)
    assert result.weights.lam > 2.0 * result.scale
    assert result.wer < edge.wer and edge.weights.lam <= grid[-1]  # searched as given


# --------------------------------------------------------------------------- edges


def _pinned_scale(
    lists: list[NbestList], lm: list[float], refs: dict
) -> tuple[list[NbestList], np.ndarray, dict]:
    """Add lists of two identical hypotheses (no effect on the errors) whose first-pass and LM
    scores differ by the same large amount, so that ``score_scale`` is ~1 and the hard limits
    are ``TUNE_LIMITS``."""
    for i in range(20):
        lists.append(
            NbestList(f"pad{i}", [Hypothesis("p", {"am": 0.0}, 1), Hypothesis("p", {"am": -1e5}, 2)])
        )
        refs[f"pad{i}"] = "p"
        lm += [0.0, -1e5]
    return lists, np.array(lm), refs


def _beyond_limit_set() -> tuple[list[NbestList], np.ndarray, dict]:
    """Pairs whose correct hypothesis, a word longer, wins iff word_bonus > t. The thresholds sit
    just inside each extension round's reach (3, 8, 18, 38, then the hard limit 50), so each
    round finds fewer errors; the last two take more than the limit allows."""
    lists, lm, refs = [], [], {}
    for i, t in enumerate([2.9, 7.9, 17.8, 37.5, 49.0, 1e3, 2e3]):
        lists.append(
            NbestList(f"u{i}", [Hypothesis("a b", {"am": 0.0}, 1), Hypothesis("a b c", {"am": -t}, 2)])
        )
        refs[f"u{i}"] = "a b c"
        lm += [-5.0, -5.0]
    lists.append(NbestList("lm", [Hypothesis("x", {"am": 0.0}, 1), Hypothesis("y", {"am": -1.0}, 2)]))
    refs["lm"] = "y"
    lm += [-3.0, -1.0]  # lam > 0.5 chooses the correct one
    return _pinned_scale(lists, lm, refs)


def test_weight_beyond_the_hard_limit_is_flagged(caplog):
    lists, lm, refs = _beyond_limit_set()
    with caplog.at_level(logging.WARNING, logger="rnnlm_fast"):
        result = nb.tune_weights(lists, lm, refs)
    assert result.scale == pytest.approx(1.0, abs=0.01)
    assert result.on_edge == ("word_bonus",)
    assert result.weights.word_bonus == pytest.approx(TUNE_LIMITS["word_bonus"][1] * result.scale)
    assert result.errors == 2  # the pairs past the limit stay wrong
    assert "word_bonus ended on the limit of its search range" in caplog.text


def test_plateau_past_an_edge_is_not_flagged():
    """gamma below -3 changes nothing: at the default grid's end, -10, the extension finds
    nothing better and is undone; gamma is not flagged."""
    lists = [NbestList("u", [Hypothesis("a zz", {"am": 0.0}, 1), Hypothesis("a b", {"am": -3.0}, 2)])]
    lists.append(NbestList("v", [Hypothesis("x", {"am": 0.0}, 1), Hypothesis("y", {"am": -1.0}, 2)]))
    lists, lm, refs = _pinned_scale(lists, [-5.0, -5.0, -3.0, -1.0], {"u": "a b", "v": "y"})
    n_oov = np.zeros(len(lm))
    n_oov[0] = 1.0
    result = nb.tune_weights(lists, lm, refs, n_oov=n_oov)
    assert result.errors == 0 and result.on_edge == ()
    assert result.weights.gamma == pytest.approx(-10.0 * result.scale)


def test_lm_weight_zero_is_flagged(caplog):
    """An LM score that only misleads: lam ends on its hard limit 0."""
    lists = [NbestList("u", [Hypothesis("a", {"am": 0.0}, 1), Hypothesis("b", {"am": -1.0}, 2)])]
    with caplog.at_level(logging.WARNING, logger="rnnlm_fast"):
        result = nb.tune_weights(lists, np.array([-9.0, -1.0]), {"u": "a"})
    assert result.weights.lam == 0.0 and "lam" in result.on_edge and result.wer == 0.0
    assert "lam ended on the limit" in caplog.text


# --------------------------------------------------------------------------- explicit grids


def test_explicit_grids_are_searched_as_given():
    """No scale, no extension, no line search: the mesh, then the fine pass inside it."""
    lists, lm, refs = noisy_set(n_utts=200)
    lam, bonus = [0.0, 0.5, 1.0], [-1.0, 0.0, 1.0]
    coarse = nb.tune_weights(lists, lm, refs, lam_grid=lam, word_bonus_grid=bonus, refine=False)
    assert coarse.evaluated == 9 and coarse.scale == 1.0
    direct = {(a, b): nb.rescore(lists, lm, Weights(a, b), refs)[1]["wer_after"] for a in lam for b in bonus}
    assert coarse.wer == pytest.approx(min(direct.values()))
    assert (coarse.weights.lam, coarse.weights.word_bonus) == min(direct, key=lambda k: (direct[k], k))
    assert coarse.on_edge == ("lam", "word_bonus")  # the best point is the grids' corner (1, 1)
    fine = nb.tune_weights(lists, lm, refs, lam_grid=lam, word_bonus_grid=bonus)
    assert fine.evaluated == 9 + 11 * 11  # the fine pass between neighbours, nothing more
    assert 0.5 <= fine.weights.lam <= 1.0 and 0.0 <= fine.weights.word_bonus <= 1.0
    assert fine.wer <= coarse.wer


def test_one_explicit_grid_fixes_only_its_weight():
    lists, lm, refs = noisy_set(n_utts=200)
    result = nb.tune_weights(lists, lm, refs, word_bonus_grid=[0.0])
    assert result.weights.word_bonus == 0.0 and "word_bonus" not in result.on_edge
    assert result.scale == score_scale(nb.build_features(lists, lm))
