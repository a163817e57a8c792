"""rnnlm-0.4b model files (rnnlm_fast.rnnlm04b): files written here from a known network score as
a NumPy implementation of rnnlm-0.4b's forward pass does (tests/rnnlm04b_reference.py), hash
quirks included; models go to its text and binary formats and back with identical scores."""

from __future__ import annotations

import numpy as np
import pytest
from corpora import write_corpus
from rnnlm04b_reference import Rnnlm04b, as_written, assign_classes, write_model

from rnnlm_fast import RNNLM, ModelFormatError, Vocabulary, load_rnnlm04b, save_rnnlm04b
from rnnlm_fast.model_file import read_header
from rnnlm_fast.rnnlm04b import classes_from_counts, read_file, write_file

V, H, C, ORDER = 30, 7, 5, 4
WORDS = ["</s>"] + [f"w{i}" for i in range(1, V)]


def network(D: int, seed: int = 0) -> dict:
    """A known small network in rnnlm-0.4b's layout: counts, classes, syn0, syn1, syn_d."""
    rng = np.random.default_rng(seed)
    counts = [40] + sorted(rng.integers(1, 200, V - 1).tolist(), reverse=True)
    return {"counts": counts, "word_class": assign_classes(counts, C, False),
            "syn0": rng.normal(0, 0.6, (H, V + H)).astype(np.float32),
            "syn1": rng.normal(0, 0.6, (V + C, H)).astype(np.float32),
            "direct": rng.normal(0, 0.5, D).astype(np.float32)}


def sentences(seed: int = 1) -> list[list[int]]:
    """Word ids, -1 for a word outside the vocabulary (every tenth or so)."""
    rng = np.random.default_rng(seed)
    return [[int(w) if rng.random() > 0.1 else -1 for w in rng.integers(1, V, rng.integers(1, 9))]
            for _ in range(25)]


def as_text(sents: list[list[int]]) -> list[str]:
    return [" ".join(WORDS[w] if w >= 0 else f"oov{i}" for i, w in enumerate(s)) for s in sents]


# --- against the NumPy implementation of rnnlm-0.4b -----------------------------------------
@pytest.mark.parametrize("D", [20, 21, 1000])  # 20: both hash quirks met many times (asserted); 21: odd
@pytest.mark.parametrize("form", ["text", "text-rnnlm-digits", "binary"])
@pytest.mark.parametrize("independent", [True, False])
def test_a_written_file_scores_as_rnnlm04b_does(tmp_path, D, form, independent):
    net = network(D)
    if form == "text-rnnlm-digits":  # what rnnlm-0.4b's own writer keeps of the weights
        net.update(syn0=as_written(net["syn0"], "%.4f"), syn1=as_written(net["syn1"], "%.4f"),
                   direct=as_written(net["direct"], "%.2f"))
    path = tmp_path / "model.txt"
    write_model(path, WORDS, net["counts"], net["word_class"], net["syn0"], net["syn1"], net["direct"], C,
                ORDER, binary=form == "binary", digits="rnnlm" if form == "text-rnnlm-digits" else "exact")
    oracle = Rnnlm04b(net["syn0"], net["syn1"], net["direct"], net["counts"], C, ORDER)
    sents = sentences()
    want = np.array(oracle.test(sents, independent))
    model = load_rnnlm04b(path)
    assert (model.direct, model.direct_order, model.direct_hash) == (D, ORDER, "rnnlm04b")
    assert model.vocab.word_class.tolist() == net["word_class"]
    if independent:
        got = np.concatenate(model.score_words(as_text(sents), max_oov_rate=1.0))
    else:
        text = tmp_path / "test.txt"
        text.write_text("\n".join(as_text(sents)) + "\n")
        got = model.perplexity(text, per_word=True, max_oov_rate=1.0).word_log10
    known = np.isfinite(want)
    assert known.sum() > 100 and (~known).sum() > 5
    np.testing.assert_allclose(got[known], want[known], rtol=0, atol=1e-5)
    if D == 20:
        assert oracle.quirks["zero_class_hash"] > 5 and oracle.quirks["word_block_end"] > 50, oracle.quirks


def test_probabilities_sum_to_one_with_rnnlm04b_hashing(tmp_path):
    path = tmp_path / "m.bin"
    net = network(20)
    write_model(path, WORDS, net["counts"], net["word_class"], net["syn0"], net["syn1"], net["direct"], C,
                ORDER, binary=True)
    model = load_rnnlm04b(path)
    for context in ([], ["w3"], ["w3", "w7", "w1"]):
        assert abs(float(model.next_word_distribution(context).sum()) - 1.0) < 1e-5


@pytest.mark.parametrize("old", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_classes_are_rnnlm04b_s(old, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 3000))
    counts = np.sort(rng.zipf(1.3 + seed / 10, n).clip(1, 10**6))[::-1].astype(np.int64)
    n_classes = int(rng.integers(1, max(2, n // 3)))
    assert classes_from_counts(counts, n_classes, old).tolist() == assign_classes(counts, n_classes, old)


def test_classes_recomputed_from_the_counts_as_rnnlm04b_does_on_loading(tmp_path):
    """rnnlm-0.4b ignores the class column (initNet recomputes it): so does the reader, saying so."""
    net = network(64)
    column = list(net["word_class"])
    column[3] = 1
    path = tmp_path / "m.txt"
    write_model(path, WORDS, net["counts"], column, net["syn0"], net["syn1"], net["direct"], C, ORDER)
    with pytest.warns(UserWarning, match=rf"{path}:34: .*'w3' in class 1.*recomputes.*class 0"):
        model = load_rnnlm04b(path)
    assert model.vocab.word_class.tolist() == net["word_class"]


# --- round trips ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("rnnlm04b") / "train.txt", 120, seed=5)


def unbiased_model(corpus, direct: int) -> RNNLM:
    """Random weights, biases zero (as every rnnlm-0.4b network), a random direct table."""
    model = RNNLM(Vocabulary.from_corpus(corpus, classes=6), hidden=9, seed=4, direct=direct, direct_order=3,
                  direct_hash="rnnlm04b")
    if direct:
        model.weights()["direct"][:] = np.random.default_rng(0).normal(0, 0.3, direct)
    return model


@pytest.mark.parametrize("direct", [0, 600])
@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_gives_identical_scores(tmp_path, corpus, direct, binary):
    model = unbiased_model(corpus, direct)
    save_rnnlm04b(model, tmp_path / "m04b", binary=binary)
    back = load_rnnlm04b(tmp_path / "m04b")
    for name, a in model.weights().items():
        assert np.array_equal(back.weights()[name], a), name
    assert back.vocab.words == model.vocab.words and back.vocab.counts.tolist() == model.vocab.counts.tolist()
    assert np.array_equal(back.perplexity(corpus, per_word=True).word_log10,
                          model.perplexity(corpus, per_word=True).word_log10)
    assert (back.direct, back.direct_order) == (model.direct, model.direct_order if direct else 0)
    back.save(tmp_path / "back.rnnlm")  # and on through rnnlm-fast's own format
    assert np.array_equal(RNNLM.load(tmp_path / "back.rnnlm").score(["w1 w2 w3", "w4"]),
                          model.score(["w1 w2 w3", "w4"]))


@pytest.mark.parametrize("binary", [False, True])
def test_a_trained_model_goes_over_with_its_biases_folded(tmp_path, corpus, binary):
    model = RNNLM(Vocabulary.from_corpus(corpus, classes=6), hidden=8, seed=2, direct=500, direct_order=3,
                  direct_hash="rnnlm04b")
    model.train(corpus, corpus, max_epochs=2, progress=False)
    with pytest.raises(ModelFormatError, match="non-zero biases.*fold_biases=True"):
        save_rnnlm04b(model, tmp_path / "m04b", binary=binary)
    save_rnnlm04b(model, tmp_path / "m04b", binary=binary, fold_biases=True)
    content = read_file(tmp_path / "m04b")
    assert content.hidden == 9 and np.all(content.hidden_state == 1.0)
    back = load_rnnlm04b(tmp_path / "m04b")
    assert back.hidden == 9 and not any(back.weights()[b].any() for b in ("hidden_bias", "class_b", "word_b"))
    np.testing.assert_allclose(back.perplexity(corpus, per_word=True).word_log10,
                               model.perplexity(corpus, per_word=True).word_log10, rtol=0, atol=1e-6)
    assert content.bptt == model.train_options["bptt"] and content.starting_lr == pytest.approx(0.1)


def test_an_rnnlm04b_file_goes_through_rnnlm_fast_and_back_unchanged(tmp_path):
    net = network(1000)
    write_model(tmp_path / "a.txt", WORDS, net["counts"], net["word_class"], net["syn0"], net["syn1"],
                net["direct"], C, ORDER)
    save_rnnlm04b(load_rnnlm04b(tmp_path / "a.txt"), tmp_path / "b.txt")
    a, b = read_file(tmp_path / "a.txt"), read_file(tmp_path / "b.txt")
    for name in ("syn0", "syn1", "direct", "counts", "word_class"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.words == b.words
    assert (a.n_classes, a.direct_order, a.independent) == (b.n_classes, b.direct_order, True)
    write_file(a, tmp_path / "c.bin", binary=True)  # text -> binary, keeping every header line
    c = read_file(tmp_path / "c.bin")
    assert c.binary and c.info == a.info and np.array_equal(c.syn0, a.syn0) and c.lr == a.lr == 0.05


# --- what rnnlm-0.4b cannot hold -----------------------------------------------------------
@pytest.mark.parametrize("change,message", [
    (dict(cell="lstm"), "cell is 'lstm'"),
    (dict(direction="backward"), "backward model"),
    (dict(direct=600, direct_order=3), "'splitmix' scheme"),
    (dict(direct=600, direct_order=21, direct_hash="rnnlm04b"), "direct order 21"),
])
def test_export_refuses_what_rnnlm04b_has_not(tmp_path, corpus, change, message):
    model = RNNLM(Vocabulary.from_corpus(corpus, classes=6), hidden=5, **change)
    with pytest.raises(ModelFormatError, match=message):
        save_rnnlm04b(model, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_export_refuses_classes_rnnlm04b_would_recompute_otherwise(tmp_path, corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=6)
    shifted = Vocabulary(vocab.words, vocab.counts, np.minimum(np.arange(len(vocab)), 5))
    with pytest.raises(ModelFormatError, match="classes are not what rnnlm-0.4b computes"):
        save_rnnlm04b(RNNLM(shifted, hidden=4), tmp_path / "x")
    long = Vocabulary(vocab.words[:-1] + ["x" * 100], vocab.counts, vocab.word_class)
    with pytest.raises(ModelFormatError, match="100 bytes long"):
        save_rnnlm04b(RNNLM(long, hidden=4), tmp_path / "x")


def test_old_classes_are_detected_and_written(tmp_path, corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=7, class_method="frequency")
    save_rnnlm04b(RNNLM(vocab, hidden=4), tmp_path / "x")
    assert "old classes: 1" in (tmp_path / "x").read_text() and read_file(tmp_path / "x").old_classes


# --- the hash scheme in rnnlm-fast's own model file -----------------------------------------
def test_the_hash_scheme_is_stored_only_when_not_the_default(tmp_path, corpus):
    vocab = Vocabulary.from_corpus(corpus, classes=6)
    RNNLM(vocab, hidden=4, direct=600, direct_order=2).save(tmp_path / "a.rnnlm")
    RNNLM(vocab, hidden=4, direct=600, direct_order=2, direct_hash="rnnlm04b").save(tmp_path / "b.rnnlm")
    assert "direct_hash" not in read_header(tmp_path / "a.rnnlm")["config"]  # older readers and files agree
    assert read_header(tmp_path / "b.rnnlm")["config"]["direct_hash"] == "rnnlm04b"
    assert RNNLM.load(tmp_path / "a.rnnlm").direct_hash == "splitmix"
    assert RNNLM.load(tmp_path / "b.rnnlm").direct_hash == "rnnlm04b"


def test_training_with_rnnlm04b_hashing_learns_and_differs_from_splitmix(corpus):
    scores = {}
    for scheme in ("splitmix", "rnnlm04b"):
        model = RNNLM(Vocabulary.from_corpus(corpus, classes=6), hidden=6, seed=1, direct=800, direct_order=3,
                      direct_hash=scheme)
        before = model.perplexity(corpus).ppl
        model.train(corpus, corpus, max_epochs=2, progress=False)
        scores[scheme] = model.perplexity(corpus).ppl
        assert scores[scheme] < before / 2
        assert np.count_nonzero(model.weights()["direct"]) > 100
    assert scores["splitmix"] != scores["rnnlm04b"]


def test_an_unknown_hash_scheme_is_refused(corpus):
    from rnnlm_fast import ConfigError, _core

    assert _core.DIRECT_HASHES == ("splitmix", "rnnlm04b")
    with pytest.raises(ConfigError, match="direct_hash must be one of"):
        RNNLM(Vocabulary.from_corpus(corpus, classes=6), hidden=4, direct_hash="crc")
    with pytest.raises(ConfigError, match="unknown direct hash 'crc' \\(expected splitmix or rnnlm04b\\)"):
        _core.Model(4, 2, [0, 4], "sigmoid", direct=64, direct_order=2, direct_hash="crc")
