"""Text generation: seeded, follows the model's distribution, honours prefix and temperature."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.cli import main


@pytest.fixture
def model(corpus, valid_corpus) -> RNNLM:
    vocab = Vocabulary.from_corpus(corpus, classes=6)
    m = RNNLM(vocab, hidden=12, cell="gru", seed=2, direct=256, direct_order=2)
    m.train(corpus, valid_corpus, max_epochs=2, progress=False)
    return m


def test_same_seed_same_sentences(model):
    a = model.generate(5, seed=3)
    assert a == model.generate(5, seed=3)
    assert a != model.generate(5, seed=4)
    assert all(isinstance(s, str) for s in a) and len(a) == 5
    words = set(model.vocab.words)
    assert all(w in words and w != "</s>" for s in a for w in s.split())


def test_first_words_follow_the_distribution(model):
    p = model.next_word_distribution([])
    firsts = Counter(s.split()[0] if s else "</s>" for s in model.generate(3000, max_words=1, seed=5))
    expected = {w: p[model.vocab[w]] for w in model.vocab.words}
    # The most likely first word is drawn about as often as its probability says.
    top = max(expected, key=expected.get)
    assert abs(firsts[top] / 3000 - expected[top]) < 0.04
    # Chi-square-like check on the words with enough mass.
    big = [w for w, q in expected.items() if q > 0.03]
    err = sum((firsts[w] / 3000 - expected[w]) ** 2 / expected[w] for w in big)
    assert err < 0.02, err


def test_temperature_sharpens(model):
    cold = model.generate(400, max_words=1, temperature=0.2, seed=1)
    hot = model.generate(400, max_words=1, temperature=3.0, seed=1)
    assert len(set(cold)) < len(set(hot))


def test_prefix_conditions_generation(model):
    p = model.next_word_distribution(["w3"])
    firsts = Counter(s.split()[0] if s else "</s>" for s in model.generate(2000, prefix="w3", max_words=1, seed=9))
    top = model.vocab.words[int(np.argmax(p))]
    assert abs(firsts[top] / 2000 - p.max()) < 0.05


def test_cli_generate(tmp_path, model, capsys):
    path = tmp_path / "m.rnnlm"
    model.save(path)
    assert main(["generate", "--model", str(path), "--n", "4", "--seed", "3", "--prefix", "w1 w2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("w1 w2") for line in lines)
    assert [line[len("w1 w2"):].strip() for line in lines] == model.generate(4, prefix="w1 w2", seed=3)
