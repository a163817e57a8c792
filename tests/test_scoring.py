"""Scoring (RNNLM.perplexity, score, score_words, word_logprobs over csrc/scorer.cc): sums and
</s>, unknown words, carried state, batching and shared prefixes, thread counts, and concurrent
use of one model: the GIL is released, results agree, also while other threads save and load."""

from __future__ import annotations

import array
import ctypes
import math
import threading
import time

import numpy as np
import pytest
from corpora import write_corpus
from helpers import BOOKS, trained

from rnnlm_fast import RNNLM, ConfigError, Vocabulary, VocabularyError, _core


# --- what a score is ---------------------------------------------------------------------
def test_score_is_sum_of_word_logprobs_and_includes_eos(corpus, valid_corpus):
    model = trained(corpus, valid_corpus)
    words = model.word_logprobs("w1 w2 w3")
    assert words.shape == (4,)
    assert np.all(words < 0)
    assert model.score(["w1 w2 w3"])[0] == pytest.approx(words.sum(), abs=1e-9)
    # An empty sentence is P(</s> | <s>).
    assert model.score([""])[0] == pytest.approx(model.word_logprobs("")[0])


def test_score_accepts_a_list(toy_model):
    s = toy_model.score(["the noun1 verb1", "a noun2 verb3 the noun4", ""])
    assert s.shape == (3,) and np.all(np.isfinite(s)) and np.all(s < 0)


def test_oov_policies(corpus, valid_corpus):
    model = trained(corpus, valid_corpus)
    assert model.vocab.unk_id < 0  # every word of the tiny corpus is in the vocabulary
    lp = model.word_logprobs("w1 neverseen w2", oov="penalty", oov_penalty=-7.0)
    assert lp[1] == -7.0
    with pytest.raises(Exception, match="no <unk>"):
        model.word_logprobs("w1 neverseen", oov="unk")


def test_bad_scoring_options(toy, toy_model):
    with pytest.raises(ConfigError, match="oov"):
        toy_model.score(["the noun1 verb1"], oov="bad")
    with pytest.raises(ConfigError):
        toy_model.score(["the noun1 verb1"], threads=-1)
    with pytest.raises(ConfigError):
        toy_model.perplexity(toy["valid"], threads=-1)
    with pytest.raises(VocabularyError, match="<unk>"):  # this vocabulary has no <unk>
        toy_model.score(["the noun1 verb1"], oov="unk")


def test_perplexity_carried_state_differs_from_independent(corpus, valid_corpus):
    model = trained(corpus, valid_corpus)
    carried = model.perplexity(valid_corpus).ppl
    independent = model.perplexity(valid_corpus, independent=True).ppl
    assert carried != independent
    assert math.isfinite(carried) and math.isfinite(independent)


# --- batches, shared prefixes, threads ---------------------------------------------------
@pytest.mark.parametrize("cell", ["sigmoid", "lstm"])
def test_batched_scoring_equals_one_sentence_at_a_time(cell):
    train = str(BOOKS / "books.valid.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=20, min_count=2)
    model = RNNLM(vocab, hidden=16, cell=cell, seed=2, direct=4096, direct_order=3)
    lines = [" ".join(vocab.words[i:i + 1 + i % 13]) for i in range(1, 60)]
    batch = model.score(lines, threads=2)
    alone = np.array([model.score([s], max_oov_rate=1.0)[0] for s in lines])  # some are all unknown
    assert np.array_equal(batch, alone)


@pytest.mark.parametrize("cell", ["sigmoid", "gru", "lstm"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.filterwarnings("ignore::rnnlm_fast.errors.OovWarning")
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
    alone = np.array([model.score([s], max_oov_rate=1.0)[0] for s in lines])  # some are all unknown
    for threads in (1, 2):
        assert np.array_equal(model.score(lines, threads=threads), alone)
    per_word = model.score_words(lines[:50], threads=2)
    assert all(np.array_equal(p, model.score_words([s], max_oov_rate=1.0)[0])
               for p, s in zip(per_word, lines[:50]))


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


@pytest.mark.parametrize("model_name", ["trained_sigmoid", "trained_gru"])
def test_carried_state_is_within_a_tenth_of_a_percent_of_one_sequential_pass(model_name, request, tmp_path):
    """docs/guide.md: carried-state perplexity, computed in chunks of 256 sentences each warmed up on
    the 4 before, "differs from one sequential pass by well under 0.1%". The sequential pass is
    the engine's one-word step (rnnlm_fast.State's) carried through the whole text."""
    model = request.getfixturevalue(model_name)
    text = write_corpus(tmp_path / "long.txt", 1200, seed=7)  # five chunks
    enc = model.encode_file(text)
    chunked = model._score_positions(enc, False, 2)
    state = _core.DecoderState(model._core)
    _core.begin_sentence(state)  # then never reset: </s> is read as the next sentence's start
    sequential = np.array([_core.score_step(model._core, state, int(w)) for w in enc.mapped])
    first = enc.offsets[256]  # the first chunk has no warm-up: the same computation
    assert np.array_equal(chunked[:first], sequential[:first])
    assert not np.array_equal(chunked, sequential)  # later chunks start from a warmed-up reset
    known = enc.ids >= 0
    ppl_chunked, ppl_sequential = (math.exp(-x[known].sum() / known.sum()) for x in (chunked, sequential))
    assert model.perplexity(text, threads=2).ppl == pytest.approx(ppl_chunked, rel=1e-12)
    assert abs(ppl_chunked / ppl_sequential - 1) < 1e-3, (ppl_chunked, ppl_sequential)
    independent = math.exp(-model._score_positions(enc, True, 1)[known].sum() / known.sum())
    assert abs(independent / ppl_sequential - 1) > abs(ppl_chunked / ppl_sequential - 1)  # the state matters


# --- one model, several Python threads -----------------------------------------------------
# Whether a call releases the GIL is measured, not inferred from timings that a GIL-holding
# call also produces: while `n` threads make the call, this thread spins and notes the time of
# every turn; the share of the calls' common span in which it kept running Python (turns less
# than `gap` apart: CPU time slices and GIL hand-overs are shorter, a held GIL stops it for a
# whole call, so `gap` is a tenth of one call) is near 1 for a call that releases the GIL and
# near 0 for one that holds it (no Python bytecode runs anywhere then), on one core or many.
# Each test first checks the detector on two controls: libc's usleep through ctypes.CDLL
# (releases the GIL) and through ctypes.PyDLL (holds it).
_LIBC_FREE = ctypes.CDLL(None).usleep
_LIBC_HOLDING = ctypes.PyDLL(None).usleep


def python_runs_during(call, n_threads: int = 1, gap: float = 0.02) -> tuple[float, float]:
    """(seconds during which all ``n_threads`` calls of ``call`` ran at once, the share of them in
    which the calling thread ran Python code, with turns less than ``gap`` seconds apart)."""
    spans: list[tuple[float, float]] = []
    running = [n_threads]
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads + 1)

    def work():
        barrier.wait()
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
        with lock:
            spans.append((t0, t1))
            running[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    turns = array.array("d")
    barrier.wait()
    while running[0]:
        turns.append(time.perf_counter())
    for t in threads:
        t.join()
    begin, end = max(a for a, _ in spans), min(b for _, b in spans)
    if end <= begin:  # the calls never ran at once: they were serialised
        return 0.0, 0.0
    stamps = np.frombuffer(turns, dtype=np.float64)
    prev, now = stamps[:-1], stamps[1:]
    ran = np.clip(np.minimum(now, end) - np.maximum(prev, begin), 0.0, None)[now - prev < gap].sum()
    return end - begin, float(ran) / (end - begin)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_gil_detector_tells_a_holding_call_from_a_releasing_one(n_threads):
    span, share = python_runs_during(lambda: _LIBC_HOLDING(300_000), n_threads)
    assert share < 0.2, (span, share)  # the GIL held: this thread stood still (or the calls took turns)
    span, share = python_runs_during(lambda: _LIBC_FREE(300_000), n_threads)
    assert span > 0.2 and share > 0.6, (span, share)


@pytest.fixture(scope="module")
def long_call():
    """A model and a text that one scoring call takes a good part of a second over (the books),
    and the largest gap that still counts as running (a tenth of the call)."""
    train = str(BOOKS / "books.train.txt.gz")
    vocab = Vocabulary.from_corpus(train, classes=20, min_count=3)
    model = RNNLM(vocab, hidden=64, seed=2)
    enc = model.encode_file(train)
    start = time.perf_counter()
    model._score_positions(enc, True, 1)
    seconds = time.perf_counter() - start
    return model, enc, min(0.02, seconds / 10)


@pytest.mark.parametrize("independent", [True, False])
def test_scoring_releases_the_gil(long_call, independent):
    model, enc, gap = long_call
    span, share = python_runs_during(lambda: model._score_positions(enc, independent, 1), gap=gap)
    assert share > 0.6, (span, share)
    # the same measure around a call that holds the GIL as long
    assert python_runs_during(lambda: _LIBC_HOLDING(int(span * 1e6)), gap=gap)[1] < 0.2


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


@pytest.fixture(scope="module")
def scoring_setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("conc")
    corpus = write_corpus(d / "train.txt", 3000, seed=0)
    vocab = Vocabulary.from_corpus(corpus, classes=8)
    model = RNNLM(vocab, hidden=64, seed=2)
    return model, model.encode_file(corpus), d


def test_two_threads_scoring_overlap_and_agree(long_call):
    """Two threads score at once (their calls overlap in time, this thread keeps running Python
    meanwhile) and both get the one-thread result."""
    model, enc, gap = long_call
    expected = model._score_positions(enc, True, 1)
    measured = []
    for _ in range(3):  # on a machine loaded by other jobs, one measurement can starve this thread
        got = []
        span, share = python_runs_during(lambda: got.append(model._score_positions(enc, True, 1)), 2, gap=gap)
        assert len(got) == 2 and all(np.array_equal(g, expected) for g in got)
        measured.append((span, share))
        if span > 0 and share > 0.6:
            break
    assert span > 0 and share > 0.6, measured
    # two calls that hold the GIL never run at once, or leave this thread standing
    assert python_runs_during(lambda: _LIBC_HOLDING(300_000), 2, gap=gap)[1] < 0.2


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
