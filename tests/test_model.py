"""Training, scoring, reproducibility, threads, save/load, interruption."""

from __future__ import annotations

import math
import os
import threading
import time
from importlib import resources

import numpy as np
import pytest

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.schedule import Schedule


BOOKS = resources.files("rnnlm_fast") / "data"


def trained(corpus, valid_corpus, **kw) -> RNNLM:
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    model = RNNLM(vocab, hidden=kw.pop("hidden", 16), seed=kw.pop("seed", 1))
    model.train(corpus, valid_corpus, progress=False, **{"max_epochs": 3, **kw})
    return model


def test_save_load_gives_identical_scores(tmp_path, corpus, valid_corpus):
    model = trained(corpus, valid_corpus)
    path = tmp_path / "m.rnnlm"
    model.save(path)
    loaded = RNNLM.load(path)
    assert loaded.vocab == model.vocab
    assert loaded.activation == model.activation and loaded.hidden == model.hidden
    sentences = ["w1 w2 w3", "w9 unknownword w4", ""]
    assert np.array_equal(loaded.score(sentences), model.score(sentences))
    assert loaded.perplexity(valid_corpus).ppl == model.perplexity(valid_corpus).ppl
    assert [vars(r) for r in loaded.history] == [vars(r) for r in model.history]
    assert not list(tmp_path.glob(".*.tmp"))


def test_score_is_sum_of_word_logprobs_and_includes_eos(corpus, valid_corpus):
    model = trained(corpus, valid_corpus)
    words = model.word_logprobs("w1 w2 w3")
    assert words.shape == (4,)
    assert np.all(words < 0)
    assert model.score(["w1 w2 w3"])[0] == pytest.approx(words.sum(), abs=1e-9)
    # An empty sentence is P(</s> | <s>).
    assert model.score([""])[0] == pytest.approx(model.word_logprobs("")[0])


def test_oov_policies(corpus, valid_corpus):
    model = trained(corpus, valid_corpus)
    assert model.vocab.unk_id < 0  # every word of the tiny corpus is in the vocabulary
    lp = model.word_logprobs("w1 neverseen w2", oov="penalty", oov_penalty=-7.0)
    assert lp[1] == -7.0
    with pytest.raises(Exception, match="no <unk>"):
        model.word_logprobs("w1 neverseen", oov="unk")


def test_unknown_words_map_to_unk_when_present(tmp_path, valid_corpus):
    p = tmp_path / "t.txt"
    p.write_text("a b c <unk> a b\nb c a rare\n", encoding="utf-8")
    vocab = Vocabulary.from_corpus(p, classes=2, min_count=2)
    assert "<unk>" in vocab and "rare" not in vocab
    model = RNNLM(vocab, hidden=4)
    a = model.word_logprobs("a zzz b")
    b = model.word_logprobs("a <unk> b")
    assert np.array_equal(a, b)
    res = model.perplexity(p)
    assert res.oov == 1 and res.words == 12 - 1  # 10 words + 2 </s>, the unknown one excluded
    assert res.ppl_with_oov != res.ppl


def test_perplexity_carried_state_differs_from_independent(corpus, valid_corpus):
    model = trained(corpus, valid_corpus)
    carried = model.perplexity(valid_corpus).ppl
    independent = model.perplexity(valid_corpus, independent=True).ppl
    assert carried != independent
    assert math.isfinite(carried) and math.isfinite(independent)


@pytest.mark.parametrize("independent", [True, False])
def test_scores_do_not_depend_on_thread_count(independent):
    train = str(BOOKS / "books.train.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=20, min_count=3)
    model = RNNLM(vocab, hidden=16, seed=2)
    enc = model.encode_file(train)
    one = model._score_positions(enc, independent, 1)
    two = model._score_positions(enc, independent, 2)
    assert np.array_equal(one, two)
    # Carried state with a warm-up: almost exactly one sequential pass.
    if not independent:
        seq = model._score_positions(enc, True, 1)
        assert not np.array_equal(one, seq)


def test_scoring_releases_the_gil():
    train = str(BOOKS / "books.train.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=20, min_count=3)
    model = RNNLM(vocab, hidden=64, seed=2)
    enc = model.encode_file(train)
    done = threading.Event()
    spins = 0

    def work():
        for _ in range(3):
            model._score_positions(enc, True, 1)
        done.set()

    t = threading.Thread(target=work)
    start = time.perf_counter()
    t.start()
    while not done.is_set():
        spins += 1
    t.join()
    elapsed = time.perf_counter() - start
    # With the GIL held for the whole call the main thread would barely run.
    assert elapsed > 0.05
    assert spins > 10_000, spins


def test_concurrent_scoring_matches_sequential():
    train = str(BOOKS / "books.valid.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=20, min_count=2)
    model = RNNLM(vocab, hidden=16, seed=2)
    lines = [f"THE {w} OF THE" for w in vocab.words[:300]]
    expected = model.score(lines)
    results = [None, None]

    def work(i):
        results[i] = model.score(lines)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert np.array_equal(r, expected)


def test_schedule_follows_rnnlm():
    s = Schedule(lr=0.1, min_improvement=1.003, max_epochs=20)
    assert s.after_epoch(-1000.0) and s.lr == 0.1
    assert s.after_epoch(-900.0) and s.lr == 0.1
    assert not s.after_epoch(-950.0)  # worse: restore, and start halving
    assert s.halving and s.lr == 0.05 and not s.done
    assert s.after_epoch(-800.0) and s.lr == 0.025
    assert s.after_epoch(-799.9)  # tiny improvement while halving: stop
    assert s.done and s.lr == 0.025


@pytest.mark.parametrize("cell", ["sigmoid", "lstm"])
def test_batched_scoring_equals_one_sentence_at_a_time(cell):
    train = str(BOOKS / "books.valid.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=20, min_count=2)
    model = RNNLM(vocab, hidden=16, cell=cell, seed=2, direct=4096, direct_order=3)
    lines = [" ".join(vocab.words[i:i + 1 + i % 13]) for i in range(1, 60)]
    batch = model.score(lines, threads=2)
    alone = np.array([model.score([s])[0] for s in lines])
    assert np.array_equal(batch, alone)


def test_saved_files_get_the_usual_permissions(tmp_path, corpus, valid_corpus):
    """Atomic writes go through a private temporary file; the result must not stay private."""
    model = trained(corpus, valid_corpus, max_epochs=1)
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "m.rnnlm")
        model.vocab.save(tmp_path / "v.txt")
    finally:
        os.umask(old)
    assert (tmp_path / "m.rnnlm").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "v.txt").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("option", ["dropout", "input_dropout"])
@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_dropout_is_a_config_error(corpus, valid_corpus, option, bad):
    from rnnlm_fast.errors import ConfigError

    model = RNNLM(Vocabulary.from_corpus(corpus, classes=8), hidden=8)
    with pytest.raises(ConfigError, match=f"^{option} must be"):
        model.train(corpus, valid_corpus, progress=False, **{option: bad})


@pytest.mark.parametrize("cell", ["sigmoid", "gru", "lstm"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_shared_prefixes_score_as_sentences_alone(cell, direction):
    """Independent sentences are scored in sorted runs that compute a prefix shared with the
    sentence before once (n-best lists share most of theirs): the scores must be those of
    each sentence scored on its own, bit for bit, across run boundaries and thread counts."""
    train = str(BOOKS / "books.valid.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=20, min_count=2)
    model = RNNLM(vocab, hidden=16, cell=cell, seed=3, direct=4096, direct_order=3, direction=direction)
    rng = np.random.default_rng(0)
    for w in model.weights().values():  # every part non-zero, the direct n-gram table included
        w[...] = rng.normal(0.0, 0.3, w.shape)
    words = vocab.words[1:40]
    lines = []
    for n in range(30):  # 30 "n-best lists" of 7 variants: shared starts, shared ends, duplicates
        base = [words[j] for j in rng.integers(0, len(words), size=int(rng.integers(3, 12)))]
        cut = int(rng.integers(0, len(base)))
        lines += [" ".join(base), " ".join(base), " ".join(base[:cut]), " ".join(base + ["notaword"]),
                  " ".join(base[:cut] + [words[n % len(words)]] + base[cut + 1:]),
                  " ".join(["notaword"] + base[1:]), " ".join(base[: len(base) // 2])]
    # a literal </s> inside a line: one sentence is then a strict prefix of another
    lines += ["", "w1 w2", "w1 w2 </s> w3", "w1 w2 </s>", "w1 w2 </s> w3 w4"]
    long = [words[j] for j in rng.integers(0, len(words), size=400)]  # longer than the saved depths
    lines += [" ".join(long), " ".join(long[:300] + ["notaword"]), " ".join(long[:399])]
    alone = np.array([model.score([s])[0] for s in lines])
    for threads in (1, 2):
        assert np.array_equal(model.score(lines, threads=threads), alone)
    per_word = model.score_words(lines[:50], threads=2)
    assert all(np.array_equal(p, model.score_words([s])[0]) for p, s in zip(per_word, lines[:50]))
