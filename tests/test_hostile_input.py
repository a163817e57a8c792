"""Corpus edge cases and concurrent use of one model.

Corpus: a 200 KB word, a sentence of a million words, blank lines, and the limit on line
length. The guard against more than 2^31 distinct words (ids are int32) lives in
``csrc/vocab.cc`` ``WordCounter::add_file``; it cannot be reached cheaply, so it is not
tested here. Concurrency: threads scoring with one model overlap in time and agree with
one-at-a-time scoring, also while other threads save and load models.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from rnnlm_fast import RNNLM, CorpusError, Vocabulary

from corpora import write_corpus


def test_200kb_word_is_an_ordinary_word(tmp_path):
    word = "z" * 200_000
    p = tmp_path / "long_word.txt"
    p.write_text(f"a b {word} c\na b c\n{word}\n", encoding="utf-8")
    vocab = Vocabulary.from_corpus(p, classes=2)
    assert vocab.counts[vocab[word]] == 2
    model = RNNLM(vocab, hidden=4, seed=1)
    enc = model.encode_file(p)
    assert enc.ids.tolist().count(vocab[word]) == 2
    assert np.isfinite(model.score([f"a {word}"])).all()
    model.save(tmp_path / "m.rnnlm")
    vocab.save(tmp_path / "v.txt")
    assert RNNLM.load(tmp_path / "m.rnnlm").vocab == vocab == Vocabulary.load(tmp_path / "v.txt")


def test_million_word_sentence_needs_a_raised_line_limit(tmp_path):
    p = tmp_path / "one_sentence.txt"
    p.write_bytes(b"a b c d\n" + b"a b " * 500_000 + b"\n")  # 1,000,000 words, 2 MB on line 2
    vocab = Vocabulary.from_corpus(p, classes=2, max_line_bytes=4 << 20)
    model = RNNLM(vocab, hidden=4, seed=1)
    with pytest.raises(CorpusError) as e:  # the default limit (256 KiB) calls it corrupt input
        model.encode_file(p)
    assert f"{p}:2:" in str(e.value) and "max_line_bytes" in str(e.value)
    enc = model.encode_file(p, max_line_bytes=4 << 20)
    assert enc.sentences == 2 and len(enc.ids) == 5 + 1_000_001
    res = model.perplexity(enc)
    assert res.words == len(enc.ids) and math.isfinite(res.ppl)


def test_blank_lines_are_empty_sentences(tmp_path):
    p = tmp_path / "blank_lines.txt"
    p.write_bytes(b"a b\n\n\r\n \t \nb a\n")
    vocab = Vocabulary.from_corpus(p, classes=2)
    assert vocab.counts[vocab["a"]] == 2 and vocab.corpus_lines == 5
    enc = RNNLM(vocab, hidden=4).encode_file(p)
    assert np.diff(enc.offsets).tolist() == [3, 1, 1, 1, 3]


# --- concurrency -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def scoring_setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("conc")
    corpus = write_corpus(d / "train.txt", 3000, seed=0)
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    model = RNNLM(vocab, hidden=64, seed=2)
    return model, model.encode_file(corpus), d


def test_two_threads_scoring_overlap_and_agree(scoring_setup):
    model, enc, _ = scoring_setup
    expected = model._score_positions(enc, True, 1)
    barrier = threading.Barrier(2)
    took, got = [0.0, 0.0], [None, None]

    def work(i):
        barrier.wait()
        t = time.perf_counter()
        for _ in range(6):
            got[i] = model._score_positions(enc, True, 1)
        took[i] = time.perf_counter() - t

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    assert all(np.array_equal(g, expected) for g in got)
    # Holding the GIL would serialise the calls: wall ~ took[0] + took[1].
    assert wall < 0.85 * (took[0] + took[1]), (wall, took)


def test_scoring_while_other_threads_save_and_load(scoring_setup):
    model, enc, d = scoring_setup
    other = RNNLM(model.vocab, hidden=16, seed=9)
    expected = model._score_positions(enc, True, 1)
    expected_other = other.score(["w1 w2 w3", "w4"])
    stop = threading.Event()
    errors: list[BaseException] = []
    loads = [0]

    def save_and_load():
        try:
            while not stop.is_set():
                model.save(d / "same.rnnlm")  # the model being scored, from another thread
                other.save(d / "other.rnnlm")
                assert np.array_equal(RNNLM.load(d / "other.rnnlm").score(["w1 w2 w3", "w4"]), expected_other)
                assert np.array_equal(RNNLM.load(d / "same.rnnlm").weights()["recurrent"],
                                      model.weights()["recurrent"])
                loads[0] += 1
        except BaseException as e:  # noqa: BLE001 -- reported by the main thread
            errors.append(e)

    io = threading.Thread(target=save_and_load)
    io.start()
    try:
        for _ in range(5):
            assert np.array_equal(model._score_positions(enc, True, 1), expected)
    finally:
        stop.set()
        io.join()
    assert not errors, errors
    assert loads[0] >= 1
