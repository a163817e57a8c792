"""Scoring speed: the whole ptb/train.txt (words/s) and n-best style batches of sentences (sentences/s).

A seeded, untrained model at the PTB configuration (H=200, 100 classes); the speed does not depend on
the weights. Encoding the corpus and building the model are outside the measured call; for n-best
batches the measured call is ``model.score(sentences)``, which encodes the strings, as rescoring does.
"""

from __future__ import annotations

import itertools

import pytest
from benchutil import PTB, SEED, record, thread_counts

from rnnlm_fast import RNNLM

NBEST_SENTENCES = 10_000


@pytest.fixture(scope="module")
def model(ptb_vocab):
    return RNNLM(ptb_vocab, hidden=PTB["hidden"], cell=PTB["activation"], seed=SEED)


@pytest.fixture(scope="module")
def backward_model(ptb_vocab):
    return RNNLM(ptb_vocab, hidden=PTB["hidden"], cell=PTB["activation"], seed=SEED,
                 direction="backward")


@pytest.fixture(scope="module")
def sentences(ptb_dir):
    with open(ptb_dir / "train.txt", encoding="utf-8") as f:
        return [line.strip() for line in itertools.islice(f, NBEST_SENTENCES)]


@pytest.mark.parametrize("threads", thread_counts(), ids=lambda t: f"t{t}")
@pytest.mark.parametrize("independent", [True, False], ids=["independent", "carried"])
def test_score_corpus_threads(benchmark, model, ptb_train, independent, threads):
    benchmark.group = "score: whole ptb/train.txt"
    result = benchmark.pedantic(model.perplexity, args=(ptb_train,),
                                kwargs={"independent": independent, "threads": threads},
                                rounds=2, iterations=1)
    assert result.words > 0
    record(benchmark, len(ptb_train.ids), threads=threads, independent=independent, hidden=model.hidden,
           classes=model.n_classes)


@pytest.mark.parametrize("threads", thread_counts(), ids=lambda t: f"t{t}")
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_score_nbest(benchmark, model, backward_model, sentences, threads, direction):
    """A backward model costs the same scoring plus reversing each sentence's ids (NumPy)."""
    benchmark.group = f"score: n-best batch of {NBEST_SENTENCES} sentences"
    scorer = model if direction == "forward" else backward_model
    scores = benchmark.pedantic(scorer.score, args=(sentences,), kwargs={"threads": threads}, rounds=3,
                                iterations=1)
    assert len(scores) == len(sentences)
    positions = sum(len(s.split()) + 1 for s in sentences)
    record(benchmark, positions, threads=threads, sentences=len(sentences), hidden=model.hidden,
           classes=model.n_classes, direction=direction)
    if benchmark.stats is not None:
        benchmark.extra_info["sentences_per_sec"] = round(len(sentences) / benchmark.stats.stats.mean, 1)


def _rotated(words: list[str], k: int) -> str:
    k %= max(len(words), 1)
    return " ".join(words[k:] + words[:k])


@pytest.mark.parametrize("prefixes", ["shared", "rotated"])
def test_score_real_nbest(benchmark, model, nbest_hypotheses, prefixes):
    """Real n-best lists (dev_other, 10 hypotheses each) share most of their prefixes, which the
    scorer computes once. 'rotated' scores the same words with each hypothesis rotated by its
    rank, so a list's hypotheses no longer begin alike: same positions, little sharing. The
    ratio of the two is what prefix sharing gains on n-best rescoring."""
    benchmark.group = "score: dev_other 10-best lists, 2 threads"
    if prefixes == "shared":
        sentences = [h for nb in nbest_hypotheses for h in nb]
    else:
        sentences = [_rotated(h.split(), rank) for nb in nbest_hypotheses for rank, h in enumerate(nb)]
    scores = benchmark.pedantic(model.score, args=(sentences,), kwargs={"threads": 2}, rounds=3, iterations=1)
    assert len(scores) == len(sentences)
    record(benchmark, sum(len(s.split()) + 1 for s in sentences), threads=2, sentences=len(sentences),
           prefixes=prefixes)
    if benchmark.stats is not None:
        benchmark.extra_info["sentences_per_sec"] = round(len(sentences) / benchmark.stats.stats.mean, 1)


@pytest.fixture(scope="module")
def ptb_valid(model, ptb_dir):
    return model.encode_file(ptb_dir / "valid.txt")


def test_dynamic_evaluation(benchmark, model, ptb_valid):
    """rnnlm-0.4b's -dynamic: score and train on each word (one thread, sequential by nature);
    compare with the static one-thread scoring speed above."""
    benchmark.group = "score: dynamic evaluation of ptb/valid.txt"
    result = benchmark.pedantic(model.perplexity, args=(ptb_valid,), kwargs={"dynamic": 0.005}, rounds=2,
                                iterations=1)
    assert result.words > 0
    record(benchmark, len(ptb_valid.ids), threads=1, hidden=model.hidden, classes=model.n_classes,
           dynamic=0.005)
