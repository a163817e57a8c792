"""Text generation: seeded, follows the model's distribution, honours prefix and temperature."""

from __future__ import annotations

from collections import Counter

import numpy as np


def test_same_seed_same_sentences(trained_gru):
    a = trained_gru.generate(5, seed=3)
    assert a == trained_gru.generate(5, seed=3)
    assert a != trained_gru.generate(5, seed=4)
    assert all(isinstance(s, str) for s in a) and len(a) == 5
    words = set(trained_gru.vocab.words)
    assert all(w in words and w != "</s>" for s in a for w in s.split())


def test_first_words_follow_the_distribution(trained_gru):
    p = trained_gru.next_word_distribution([])
    firsts = Counter(s.split()[0] if s else "</s>" for s in trained_gru.generate(3000, max_words=1, seed=5))
    expected = {w: p[trained_gru.vocab[w]] for w in trained_gru.vocab.words}
    # The most likely first word is drawn about as often as its probability says.
    top = max(expected, key=expected.get)
    assert abs(firsts[top] / 3000 - expected[top]) < 0.04
    # Chi-square-like check on the words with enough mass.
    big = [w for w, q in expected.items() if q > 0.03]
    err = sum((firsts[w] / 3000 - expected[w]) ** 2 / expected[w] for w in big)
    assert err < 0.02, err


def test_temperature_sharpens(trained_gru):
    cold = trained_gru.generate(400, max_words=1, temperature=0.2, seed=1)
    hot = trained_gru.generate(400, max_words=1, temperature=3.0, seed=1)
    assert len(set(cold)) < len(set(hot))


def test_prefix_conditions_generation(trained_gru):
    p = trained_gru.next_word_distribution(["w3"])
    firsts = Counter(s.split()[0] if s else "</s>"
                     for s in trained_gru.generate(2000, prefix="w3", max_words=1, seed=9))
    top = trained_gru.vocab.words[int(np.argmax(p))]
    assert abs(firsts[top] / 2000 - p.max()) < 0.05

