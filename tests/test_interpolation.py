"""eval --lm-prob/--lambda: per-word interpolation with another LM (rnnlm-0.4b's -lm-prob)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.cli import main


@pytest.fixture
def model_path(tmp_path, corpus, valid_corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=5)
    model = RNNLM(vocab, hidden=8, seed=1)
    model.train(corpus, valid_corpus, max_epochs=1, progress=False)
    path = tmp_path / "m.rnnlm"
    model.save(path)
    return path


def _combined_ppl(out: str) -> float:
    return float(out.split("PPL combine")[1].split(")")[1].split()[0])


def test_interpolation_matches_direct_computation(tmp_path, model_path, valid_corpus, capsys):
    model = RNNLM.load(model_path)
    enc = model.encode_file(valid_corpus)
    rnn = model._log10_positions(enc, False, 1, "auto", -5.0)
    rng = np.random.default_rng(0)
    other = rng.uniform(0.001, 0.2, len(rnn))
    probs = tmp_path / "other.txt"
    probs.write_text("".join(f"{p:.10f}\n" for p in other))
    assert main(["eval", "--model", str(model_path), "--text", str(valid_corpus), "--lm-prob", str(probs),
                 "--lambda", "0.3", "--quiet"]) == 0
    out = capsys.readouterr().out
    expected = 10 ** (-np.log10(0.3 * 10**rnn + 0.7 * other).sum() / len(rnn))
    assert math.isclose(_combined_ppl(out), expected, rel_tol=1e-3)
    # lambda 1 is the RNN alone.
    assert main(["eval", "--model", str(model_path), "--text", str(valid_corpus), "--lm-prob", str(probs),
                 "--lambda", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert math.isclose(_combined_ppl(out), 10 ** (-rnn.sum() / len(rnn)), rel_tol=1e-3)


def test_wrong_number_of_probabilities(tmp_path, model_path, valid_corpus, capsys):
    probs = tmp_path / "short.txt"
    probs.write_text("0.1\n0.2\n")
    assert main(["eval", "--model", str(model_path), "--text", str(valid_corpus), "--lm-prob", str(probs),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "short.txt" in err and "2 probabilities" in err


def test_bad_probability_names_line(tmp_path, model_path, valid_corpus, capsys):
    probs = tmp_path / "bad.txt"
    probs.write_text("0.1\n0.2\nabc\n")
    assert main(["eval", "--model", str(model_path), "--text", str(valid_corpus), "--lm-prob", str(probs),
                 "--quiet"]) == 2
    assert "bad.txt:3:" in capsys.readouterr().err
