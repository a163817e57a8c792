"""An n-gram LM (KenLM) next to the RNNLM: sentence scores, the shared word/OOV rules, per-word
interpolation, ``eval --ngram`` and ``rescore --ngram``, checked against log-probabilities
computed by hand from a small 3-gram ARPA file with backoffs."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys

import numpy as np
import pytest

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.cli import main
from rnnlm_fast.errors import ConfigError, ModelFormatError
from rnnlm_fast.nbest import read_nbest
from rnnlm_fast.ngram import NgramLM, interpolate_log10, interpolated_scores, ngram_sentence_scores

needs_kenlm = pytest.mark.skipif(importlib.util.find_spec("kenlm") is None,
                                 reason='the kenlm extra is not installed (pip install "rnnlm-fast[kenlm]")')
LN10 = math.log(10)

# A 3-gram with backoffs (log10). Unlisted n-grams back off: P(w | u v) = bo(u v) + P(w | v) when
# "u v w" is absent, and bo(v) + P(w) when "v w" is absent too (bo of an absent context is 0).
ARPA = """\\data\\
ngram 1=6
ngram 2=5
ngram 3=2

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.30
-0.7\t</s>\t0
-0.5\ta\t-0.2
-0.6\tb\t-0.25
-0.9\tc\t-0.1

\\2-grams:
-0.2\t<s> a\t-0.15
-0.4\ta b\t-0.05
-0.3\tb c\t0
-0.35\tb </s>
-0.25\tc </s>

\\3-grams:
-0.1\t<s> a b
-0.12\ta b c

\\end\\
"""
# By hand, each word and then </s>:
HAND = {
    # a|<s> = "<s> a"; b|<s> a = "<s> a b"; c|a b = "a b c"; </s>|b c: bo(b c) 0 + "c </s>"
    "a b c": [-0.2, -0.1, -0.12, -0.25],
    # b|<s>: bo(<s>) -0.30 + P(b) -0.6; a|<s> b: bo(b) -0.25 + P(a) -0.5; </s>|b a: bo(a) -0.2 + P(</s>) -0.7
    "b a": [-0.9, -0.75, -0.9],
    # <unk>|<s> a: bo(<s> a) -0.15 + bo(a) -0.2 + P(<unk>) -1.0; b|a <unk>: bo(<unk>) 0 + P(b); "b </s>"
    "a <unk> b": [-0.2, -1.35, -0.6, -0.35],
    # <unk>|a b: bo(a b) -0.05 + bo(b) -0.25 + P(<unk>) -1.0; </s>|b <unk>: bo(<unk>) 0 + P(</s>) -0.7
    "a b <unk>": [-0.2, -0.1, -1.3, -0.7],
    # </s>|a b: bo(a b) -0.05 + "b </s>" -0.35
    "a b": [-0.2, -0.1, -0.4],
}


@pytest.fixture
def arpa(tmp_path):
    path = tmp_path / "toy.arpa"
    path.write_text(ARPA, encoding="utf-8")
    return path


def _model(tmp_path, lines: list[str], name: str, min_count: int = 1) -> RNNLM:
    corpus = tmp_path / f"{name}.txt"
    corpus.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return RNNLM(Vocabulary.from_corpus(corpus, min_count=min_count, classes=2), hidden=4, seed=1)


@pytest.fixture
def with_unk(tmp_path) -> RNNLM:
    """Knows a and b; c (seen once) and every other word are <unk>."""
    return _model(tmp_path, ["a b", "b a a", "a b b", "c a"], "with_unk", min_count=2)


@pytest.fixture
def without_unk(tmp_path) -> RNNLM:
    """Knows a and b, and has no <unk>."""
    return _model(tmp_path, ["a b", "b a a", "a b b"], "without_unk")


@pytest.fixture
def knows_abc(tmp_path) -> RNNLM:
    """Knows a, b and c; d (seen once) is <unk>."""
    return _model(tmp_path, ["a b c", "b a c", "c a b", "a b d"], "knows_abc", min_count=2)


@needs_kenlm
def test_kenlm_gives_the_hand_computed_scores(arpa):
    lm = NgramLM(arpa)
    assert lm.order == 3 and "c" in lm and "zzz" not in lm
    texts = list(HAND)
    np.testing.assert_allclose(lm.sentence_log10(texts), [sum(HAND[t]) for t in texts], atol=1e-6)
    flat, unk = lm.word_log10(texts)
    np.testing.assert_allclose(flat, np.concatenate([HAND[t] for t in texts]), atol=1e-6)
    assert unk.tolist() == [w == "<unk>" for t in texts for w in (*t.split(), "</s>")]


@needs_kenlm
def test_the_rnnlms_unknown_words_reach_kenlm_as_unk(arpa, with_unk, without_unk):
    """Where the RNNLM scores a word as <unk>, KenLM reads <unk> too (the same event); without
    <unk> in the RNNLM, or with oov='penalty', KenLM reads the word itself."""
    lm = NgramLM(arpa)
    got = ngram_sentence_scores(with_unk, lm, ["a b c", "<s> a b", "A B C"], case="lower")
    np.testing.assert_allclose(got, [sum(HAND["a b <unk>"]), sum(HAND["a b"]), sum(HAND["a b <unk>"])],
                               atol=1e-6)
    for model, oov in ((without_unk, "auto"), (with_unk, "penalty")):
        got = ngram_sentence_scores(model, lm, ["a b c"], oov=oov)
        np.testing.assert_allclose(got, [sum(HAND["a b c"])], atol=1e-6)


@needs_kenlm
@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_interpolation_mixes_probabilities_word_by_word(arpa, with_unk, weight):
    lm = NgramLM(arpa)
    sentences = ["a b c", "b a"]
    got = interpolated_scores(with_unk, lm, sentences, weight, threads=1)
    rnn = np.concatenate(with_unk.score_words(sentences, threads=1))  # c scored as <unk>
    ngram = np.array(HAND["a b <unk>"] + HAND["b a"])
    np.testing.assert_allclose(got.rnn, rnn)
    np.testing.assert_allclose(got.ngram, ngram, atol=1e-6)
    want = np.log10(weight * 10**ngram + (1 - weight) * 10**rnn)
    np.testing.assert_allclose(got.mixed, want, atol=1e-6)
    np.testing.assert_allclose(got.aligned.per_sentence(got.mixed), [want[:4].sum(), want[4:].sum()],
                               atol=1e-6)


@needs_kenlm
def test_without_unk_the_rnnlm_gives_its_unknown_words_no_probability(arpa, without_unk):
    """rnnlm-0.4b's -lm-prob rule: the n-gram's share only, where the RNNLM knows no such word."""
    got = interpolated_scores(without_unk, NgramLM(arpa), ["a b c"], 0.25, threads=1)
    rnn = without_unk.score_words(["a b c"], threads=1)[0]
    ngram = np.array(HAND["a b c"])
    want = np.log10(0.25 * 10**ngram + 0.75 * 10**rnn)
    want[2] = math.log10(0.25) + ngram[2]
    np.testing.assert_allclose(got.mixed, want, atol=1e-6)
    assert got.aligned.unknown.tolist() == [False, False, True, False]


def test_interpolate_log10_checks_its_weight():
    assert interpolate_log10(np.array([-1.0]), np.array([-2.0]), 0.5)[0] == pytest.approx(
        math.log10(0.5 * 0.1 + 0.5 * 0.01))
    with pytest.raises(ConfigError, match=r"in \[0, 1\]"):
        interpolate_log10(np.zeros(1), np.zeros(1), 1.5)


def _eval_lines(out: str, start: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(start))


@needs_kenlm
def test_eval_reports_the_ngram_and_the_interpolated_perplexity(tmp_path, arpa, knows_abc, capsys):
    model_path = tmp_path / "abc.rnnlm"
    knows_abc.save(model_path)
    text = tmp_path / "text.txt"
    text.write_text("a b c\nb a\na zzz b\n", encoding="utf-8")
    ngram = np.array(HAND["a b c"] + HAND["b a"] + HAND["a <unk> b"])
    known = np.ones(len(ngram), bool)
    known[8] = False  # zzz: outside the RNNLM's vocabulary, left out of PPL as eval leaves it out
    assert main(["eval", "--model", str(model_path), "--text", str(text), "--ngram", str(arpa),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    line = _eval_lines(out, "n-gram ")
    assert f"PPL {10 ** (-ngram[known].sum() / 10):.2f} on the 10 positions" in line
    assert "(1 scored as KenLM's <unk>)" in line
    assert f"PPL with OOV {10 ** (-ngram.sum() / 11):.2f}" in line
    assert "interpolated" not in out

    assert main(["eval", "--model", str(model_path), "--text", str(text), "--ngram", str(arpa),
                 "--ngram-interpolate", "0.4", "--quiet"]) == 0
    line = _eval_lines(capsys.readouterr().out, "interpolated ")
    rnn = knows_abc.perplexity(text, per_word=True).word_log10  # state carried, as eval scores
    mixed = np.log10(0.4 * 10**ngram + 0.6 * 10**rnn)
    assert line.startswith("interpolated (0.4 * n-gram + 0.6 * RNNLM, word by word)")
    assert f"log10 prob {mixed[known].sum():.2f}  PPL {10 ** (-mixed[known].sum() / 10):.2f}" in line
    assert f"PPL with OOV {10 ** (-mixed.sum() / 11):.2f}" in line


def _write_lists(root, name: str, utts: dict[str, list[str]], refs: dict[str, str]):
    nbest = root / f"{name}.tsv"
    rows = "".join(f"{u}\t{r}\t0.0\t{text}\n" for u, hyps in utts.items() for r, text in enumerate(hyps, 1))
    nbest.write_text("utt_id\trank\tam\ttext\n" + rows, encoding="utf-8")
    ref = root / f"{name}.ref"
    ref.write_text("".join(f"{u} {t}\n" for u, t in refs.items()), encoding="utf-8")
    return nbest, ref


@pytest.fixture
def lists(tmp_path, with_unk):
    """Two utterances whose first-pass 1-best the n-gram turns round; the model file."""
    model = tmp_path / "m.rnnlm"
    with_unk.save(model)
    utts = {"u1": ["b a", "a b c"], "u2": ["b a", "a b"]}
    nbest, ref = _write_lists(tmp_path, "set", utts, {"u1": "a b c", "u2": "a b"})
    return {"model": model, "nbest": nbest, "refs": ref, "root": tmp_path}


@needs_kenlm
def test_rescore_adds_the_ngram_score_as_a_feature(lists, arpa, with_unk, capsys):
    out, report = lists["root"] / "out.tsv", lists["root"] / "report.json"
    assert main(["rescore", "--model", str(lists["model"]), "--nbest", str(lists["nbest"]),
                 "--refs", str(lists["refs"]), "--ngram", str(arpa), "--lam", "0.5", "--ngram-weight", "2",
                 "--word-bonus", "0.25", "--output-nbest", str(out), "--report", str(report),
                 "--threads", "1", "--quiet"]) == 0
    hyps = [h for nb in read_nbest(out) for h in nb.hyps]
    # c is outside the RNNLM's vocabulary: the n-gram scores <unk> there, as the RNNLM does
    hand = {"b a": sum(HAND["b a"]), "a b c": sum(HAND["a b <unk>"]), "a b": sum(HAND["a b"])}
    for h in hyps:
        assert h.scores["ngram_ln"] == pytest.approx(hand[h.text] * LN10, abs=1e-5)
        total = (h.scores["am"] + 0.5 * h.scores["rnnlm_ln"] + 0.25 * h.scores["n_words"]
                 + 2 * h.scores["ngram_ln"])
        assert h.scores["total"] == pytest.approx(total, abs=1e-4)
    rep = json.loads(report.read_text())
    assert rep["weights"]["ngram"] == 2.0 and rep["ngram"]["order"] == 3 and rep["ngram"]["as_feature"]
    assert "n-gram 2.000" in capsys.readouterr().out

    # Tuned on the same lists: the n-gram's weight is searched with the others and fixes both.
    assert main(["rescore", "--model", str(lists["model"]), "--nbest", str(lists["nbest"]), "--refs",
                 str(lists["refs"]), "--tune-nbest", str(lists["nbest"]), "--tune-refs", str(lists["refs"]),
                 "--ngram", str(arpa), "--report", str(report), "--threads", "1", "--quiet"]) == 0
    rep = json.loads(report.read_text())
    assert rep["before"]["wer_percent"] > 0 and rep["after"]["wer_percent"] == 0
    assert rep["weights"]["ngram"] > 0


@needs_kenlm
def test_rescore_interpolates_word_by_word(lists, arpa, with_unk):
    out = lists["root"] / "out.tsv"
    assert main(["rescore", "--model", str(lists["model"]), "--nbest", str(lists["nbest"]),
                 "--ngram", str(arpa), "--ngram-interpolate", "0.7", "--lam", "1", "--output-nbest", str(out),
                 "--threads", "1", "--quiet"]) == 0
    hyps = [h for nb in read_nbest(out) for h in nb.hyps]
    texts = [h.text for h in hyps]
    mixed = interpolated_scores(with_unk, NgramLM(lists["root"] / "toy.arpa"), texts, 0.7, threads=1)
    want = mixed.aligned.per_sentence(mixed.mixed) * LN10
    np.testing.assert_allclose([h.scores["rnnlm_ln"] for h in hyps], want, atol=1e-4)
    hand = {"b a": sum(HAND["b a"]), "a b c": sum(HAND["a b <unk>"]), "a b": sum(HAND["a b"])}
    for h in hyps:  # the n-gram's own score stays in the lists, unweighted
        assert h.scores["ngram_ln"] == pytest.approx(hand[h.text] * LN10, abs=1e-5)
        assert h.scores["total"] == pytest.approx(h.scores["am"] + h.scores["rnnlm_ln"], abs=1e-4)


@pytest.mark.parametrize("extra, message", [
    (["--ngram-interpolate", "0.5"], "--ngram-interpolate needs --ngram"),
    (["--ngram-weight", "0.5"], "--ngram-weight needs --ngram"),
    (["--ngram", "LM", "--ngram-interpolate", "1.5"], r"ngram_interpolate must be in \[0, 1\]"),
    (["--ngram", "LM", "--ngram-interpolate", "0.5", "--ngram-weight", "1"], "give one of them"),
    (["--ngram", "LM"], "--lam fixes the weights: give the n-gram's too"),
    (["--ngram", "LM", "--ngram-interpolate", "0.5", "--mix-model", "M"], "with --model alone"),
])
def test_rescore_refuses_ngram_flags_that_do_not_fit(lists, arpa, capsys, extra, message):
    extra = [str(arpa) if a == "LM" else str(lists["model"]) if a == "M" else a for a in extra]
    assert main(["rescore", "--model", str(lists["model"]), "--nbest", str(lists["nbest"]), "--lam", "1",
                 *extra, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@needs_kenlm
def test_unreadable_and_missing_ngram_files(tmp_path, lists, capsys):
    bad = tmp_path / "bad.arpa"
    bad.write_text("hello world\n", encoding="utf-8")
    with pytest.raises(ModelFormatError, match="bad.arpa: KenLM cannot read this n-gram LM"):
        NgramLM(bad)
    assert main(["rescore", "--model", str(lists["model"]), "--nbest", str(lists["nbest"]), "--lam", "1",
                 "--ngram", str(tmp_path / "missing.arpa"), "--ngram-weight", "1", "--quiet"]) == 2
    assert "missing.arpa" in capsys.readouterr().err


@needs_kenlm
def test_a_backward_model_is_not_interpolated(tmp_path, arpa, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b\nb a\n", encoding="utf-8")
    model = RNNLM(Vocabulary.from_corpus(corpus, classes=2), hidden=4, direction="backward")
    with pytest.raises(ConfigError, match="backward model"):
        interpolated_scores(model, NgramLM(arpa), ["a b"], 0.5)
    model.save(tmp_path / "b.rnnlm")
    assert main(["eval", "--model", str(tmp_path / "b.rnnlm"), "--text", str(corpus), "--ngram", str(arpa),
                 "--ngram-interpolate", "0.5", "--quiet"]) == 2
    assert "backward model" in capsys.readouterr().err


def test_without_kenlm_ngram_says_how_to_install_it(lists, tmp_path, capsys, monkeypatch):
    """kenlm is optional: --ngram fails at once, in one line naming the extra, before any scoring."""
    monkeypatch.setitem(sys.modules, "kenlm", None)  # "import kenlm" raises ImportError
    arpa = tmp_path / "lm.arpa"
    arpa.write_text(ARPA, encoding="utf-8")
    text = tmp_path / "t.txt"
    text.write_text("a b\n", encoding="utf-8")
    for argv in (["eval", "--model", str(lists["model"]), "--text", str(text), "--ngram", str(arpa)],
                 ["rescore", "--model", str(lists["model"]), "--nbest", str(lists["nbest"]),
                  "--ngram", str(arpa), "--lam", "1", "--ngram-weight", "1"]):
        assert main([*argv, "--quiet"]) == 2
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert len(lines) == 1 and 'pip install "rnnlm-fast[kenlm]"' in lines[0], err
        assert out == ""
    with pytest.raises(ConfigError, match=r'pip install "rnnlm-fast\[kenlm\]"'):
        NgramLM(arpa)
