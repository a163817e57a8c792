"""Shared helpers of the n-best tests: sample lists, comparison, broken-file checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from corpora import DATA

from rnnlm_fast import errors
from rnnlm_fast.nbest import Hypothesis, NbestList, bytelog_to_ln

ESPNET_10BEST = DATA / "nbest" / "librispeech_espnet_10best"
needs_espnet_data = pytest.mark.skipif(
    not ESPNET_10BEST.is_dir(), reason=f"real n-best data not present at {ESPNET_10BEST}"
)


def sample_lists(keys=("am", "lm"), grid: bool = False, seed: int = 0) -> list[NbestList]:
    """Three utterances of 3, 1 and 2 hypotheses, with an empty and a non-ASCII one."""
    rng = np.random.default_rng(seed)
    texts = {
        "1272-128104-0000": ["MISTER QUILTER IS THE APOSTLE", "MISTER QUIILTER IS THE APOSTLE", ""],
        "utt_b": [
            "café naïve",
        ],
        "spk2-utt3": ["HE TELLS US", "HE TELL US THAT"],
    }

    def score() -> float:
        if grid:  # exactly representable in SRILM bytelogs
            return bytelog_to_ln(int(rng.integers(-2000, 0)))
        return float(rng.normal(-20.0, 8.0))

    lists = []
    for utt, hyps in texts.items():
        lists.append(
            NbestList(
                utt,
                [
                    Hypothesis(t, {k: (0.0 if (k == "lm" and not t) else score()) for k in keys}, r)
                    for r, t in enumerate(hyps, start=1)
                ],
            )
        )
    return lists


def random_lists(seed: int, with_old_lm: bool) -> tuple[np.random.Generator, list[NbestList], dict[str, str]]:
    """40 utterances of 1-5 random hypotheses over four words, with references; the
    generator is returned to draw further per-hypothesis values from."""
    rng = np.random.default_rng(seed)
    words = ["a", "b", "c", "d"]
    lists, refs = [], {}
    for u in range(40):
        refs[f"u{u}"] = " ".join(rng.choice(words, size=rng.integers(1, 6)))
        hyps = []
        for r in range(1, int(rng.integers(1, 6)) + 1):
            text = " ".join(rng.choice(words, size=rng.integers(0, 7)))
            scores = {"am": float(rng.normal(-5, 2))}
            if with_old_lm:
                scores["old"] = float(rng.normal(-9, 3))
            hyps.append(Hypothesis(text, scores, r))
        lists.append(NbestList(f"u{u}", hyps))
    return rng, lists, refs


def synthetic_set(with_old_lm: bool):
    """Utterances whose correct hypothesis wins only on one side of a known threshold.

    Each utterance is a pair (wrong at rank 1, correct at rank 2) built so that the
    correct one wins iff ``weight > t`` or iff ``weight < t``. The thresholds close in
    on lam in (0.43, 0.47), word_bonus in (0.92, 1.08) and, with the old LM, mu in
    (0.62, 0.68): a zero-WER basin around a known-good point. The lam and mu basins
    hold no point of the default coarse grids (steps 0.1 and 0.25).
    """
    below = {
        "lam": [0.05, 0.1, 0.2, 0.3, 0.4, 0.43],
        "word_bonus": [-2.0, -1.0, 0.0, 0.5, 0.8, 0.92],
        "mu": [0.1, 0.3, 0.5, 0.62],
    }  # correct wins iff weight > t
    above = {
        "lam": [0.47, 0.5, 0.7, 1.0, 1.5],
        "word_bonus": [1.08, 1.3, 1.7, 2.5],
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
    for i, t in enumerate(below["word_bonus"]):  # the correct one has an extra word
        add(f"bonus_gt_{i}", ("g h i", -t, -1.0, 0.0), ("g h", 0.0, -1.0, 0.0))
    for i, t in enumerate(above["word_bonus"]):  # the correct one is a word shorter
        add(f"bonus_lt_{i}", ("j k", 0.0, -1.0, 0.0), ("j k z", -t, -1.0, 0.0))
    if with_old_lm:
        for i, t in enumerate(below["mu"]):
            add(f"mu_gt_{i}", ("m n", -t, -1.0, 0.0), ("m w", 0.0, -1.0, -1.0))
        for i, t in enumerate(above["mu"]):
            add(f"mu_lt_{i}", ("o p", 0.0, -1.0, -1.0), ("o v", -t, -1.0, 0.0))
    return lists, np.array(lm), refs


def assert_same(got: list, want: list, keys=(), tol: float = 1e-6) -> None:
    """Same utterances, texts and ranks in the same order, and the named scores within ``tol``."""
    assert [n.utt_id for n in got] == [n.utt_id for n in want]
    for g, w in zip(got, want):
        assert [h.text for h in g.hyps] == [h.text for h in w.hyps]
        assert [h.rank for h in g.hyps] == [h.rank for h in w.hyps]
        for gh, wh in zip(g.hyps, w.hyps):
            assert set(gh.scores) == set(keys)
            for k in keys:
                assert gh.scores[k] == pytest.approx(wh.scores[k], abs=tol), (g.utt_id, k)


def expect_error(call, path: Path, lineno: int | None, fragment: str) -> None:
    """``call()`` raises NbestFormatError naming ``path:lineno:`` (or ``path:``) and ``fragment``."""
    with pytest.raises(errors.NbestFormatError) as excinfo:
        call()
    msg = str(excinfo.value)
    where = f"{path}:{lineno}:" if lineno is not None else f"{path}:"
    assert where in msg, msg
    assert fragment in msg, msg


def expect_broken_file(path: Path, reader, content: str, lineno: int | None, fragment: str) -> None:
    """Write ``content`` to ``path``; ``reader(path)`` must fail as ``expect_error`` says."""
    path.write_text(content)
    expect_error(lambda: reader(path), path, lineno, fragment)
