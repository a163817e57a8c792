"""The ``rnnlm-fast`` commands that read a model (rnnlm_fast/cli.py), run in-process through
``main``: eval (per word, independent, dynamic, a given vocabulary), score, generate, a backward
model's output order, and their errors: exit status 2 and one line naming the file.

Hermetic: generated corpora in ``tmp_path``, seeded, one thread, tiny models.
"""

from __future__ import annotations

import gzip
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, run_main

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.cli import main

FLOAT_LINE = re.compile(r"^-?\d+\.\d{6}$")


# --- eval ------------------------------------------------------------------------------
def test_eval(capsys, toy, toy_lm):
    rc, stdout, err = run_main(capsys, "eval", "--model", str(toy_lm), "--text", str(toy["test"]), "--quiet")
    assert rc == 0, err
    res = RNNLM.load(toy_lm).perplexity(toy["test"])
    assert f"PPL {res.ppl:.2f}" in stdout
    assert f"{res.sentences} sentences, {res.words} words" in stdout and str(toy["test"]) in stdout
    assert res.sentences == 40 and res.oov == 0


@pytest.mark.parametrize("independent", [False, True])
def test_eval_per_word(capsys, toy, toy_lm, independent):
    args = ["eval", "--model", str(toy_lm), "--text", str(toy["test"]), "--per-word", "--quiet"]
    rc, stdout, err = run_main(capsys, *args, *(["--independent"] if independent else []))
    assert rc == 0, err
    lines = stdout.splitlines()
    per_word = [line.split("\t") for line in lines if "\t" in line]
    summary = [line for line in lines if "\t" not in line]
    expected_words = []
    for s in toy["test"].read_text().splitlines():
        expected_words += s.split() + ["</s>"]
    assert [w for w, _ in per_word] == expected_words
    assert lines[: len(per_word)] == ["\t".join(p) for p in per_word]  # the words come first
    assert len(summary) == 2
    values = np.array([float(v) for _, v in per_word])
    assert np.all(values < 0)
    res = RNNLM.load(toy_lm).perplexity(toy["test"], independent=independent)
    assert values.sum() == pytest.approx(res.log10_prob, abs=1e-6 * len(values))
    assert 10 ** (-values.sum() / len(values)) == pytest.approx(res.ppl, rel=1e-5)
    assert f"PPL {res.ppl:.2f}" in summary[1]
    assert f"log10 prob {values.sum():.2f}" in summary[1]


def test_eval_independent_changes_the_result(capsys, toy, toy_lm):
    base = ["eval", "--model", str(toy_lm), "--text", str(toy["test"]), "--quiet"]
    _, carried, _ = run_main(capsys, *base)
    _, reset, _ = run_main(capsys, *base, "--independent")
    ppl = [float(re.search(r"PPL ([\d.]+)", s).group(1)) for s in (carried, reset)]
    assert ppl[0] != ppl[1]


def test_eval_with_matching_vocab(capsys, toy, toy_lm, tmp_path):
    vf = tmp_path / "v.txt"
    RNNLM.load(toy_lm).vocab.save(vf)
    rc, stdout, err = run_main(capsys, "eval", "--model", str(toy_lm), "--text", str(toy["test"]), "--vocab",
                               str(vf), "--quiet")
    assert rc == 0 and "PPL" in stdout, err


def test_eval_with_mismatched_vocab(capsys, toy, toy_lm, tmp_path):
    vocab = RNNLM.load(toy_lm).vocab
    words = list(vocab.words)
    words[2], words[3] = words[3], words[2]
    vf = tmp_path / "other_vocab.txt"
    Vocabulary(words, vocab.counts, vocab.word_class).save(vf)
    rc, stdout, err = run_main(capsys, "eval", "--model", str(toy_lm), "--text", str(toy["test"]), "--vocab",
                               str(vf), "--quiet")
    assert_one_line_error(rc, stdout, err, str(toy_lm), "id 2", repr(words[2]), repr(vocab.words[2]))
    assert stdout == ""


# --- score -----------------------------------------------------------------------------
SCORE_LINES = [
    "the noun1 verb2 a noun3",
    "",
    "every adj2 noun4 verb0",
    "unknownword the noun1",
    "  the\tnoun2   verb1  ",
    "a noun5 verb5 x\u2028y",  # U+2028 and form feed are not line breaks
    "this noun6 \x0c verb6",
]


@pytest.mark.parametrize("source", ["file", "stdin", "crlf-file"])
def test_score(capsys, toy, toy_lm, tmp_path, monkeypatch, source):
    text = "\n".join(SCORE_LINES) + "\n"
    raw = text.encode("utf-8")
    if source == "crlf-file":
        raw = raw.replace(b"\n", b"\r\n")
    if source == "stdin":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
        where = "-"
    else:
        where = str(tmp_path / "sentences.txt")
        Path(where).write_bytes(raw)
    rc, stdout, err = run_main(capsys, "score", "--model", str(toy_lm), "--text", where, "--quiet")
    assert rc == 0, err
    assert err == ""
    out_lines = stdout.split("\n")
    assert out_lines[-1] == ""  # newline-terminated
    out_lines = out_lines[:-1]
    assert len(out_lines) == len(SCORE_LINES)
    assert all(FLOAT_LINE.match(line) for line in out_lines), out_lines
    want = RNNLM.load(toy_lm).score(SCORE_LINES)
    np.testing.assert_allclose([float(x) for x in out_lines], want, atol=1e-5, rtol=0)
    assert len(set(out_lines)) == len(out_lines)


def test_score_without_final_newline_and_options(capsys, toy_lm, tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("the noun1 verb1\nunknownword noun2 verb2", encoding="utf-8")
    lines = ["the noun1 verb1", "unknownword noun2 verb2"]
    rc, stdout, err = run_main(capsys, "score", "--model", str(toy_lm), "--text", str(p), "--oov-penalty",
                               "-9", "--carry-state")
    assert rc == 0, err
    got = [float(x) for x in stdout.split()]
    want = RNNLM.load(toy_lm).score(lines, oov_penalty=-9.0, independent=False)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert len(got) == 2


def test_score_empty_input(capsys, toy_lm, tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    rc, stdout, err = run_main(capsys, "score", "--model", str(toy_lm), "--text", str(p))
    assert rc == 0 and stdout == "" and err == ""


# --- errors: exit code 2, one line naming the file -------------------------------------
@pytest.mark.parametrize("command", ["eval", "score"])
def test_error_text_file(capsys, toy_lm, tmp_path, command):
    missing = tmp_path / "nope.txt"
    rc, out, err = run_main(capsys, command, "--model", str(toy_lm), "--text", str(missing))
    assert_one_line_error(rc, out, err, str(missing), "not exist")
    assert out == ""
    rc, out, err = run_main(capsys, command, "--model", str(toy_lm), "--text", str(tmp_path))
    assert_one_line_error(rc, out, err, str(tmp_path), "directory")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"the noun1 verb1\nthe noun2 verb2\nthe noun3 \xc3\x28 verb3\n")
    rc, out, err = run_main(capsys, command, "--model", str(toy_lm), "--text", str(bad))
    assert_one_line_error(rc, out, err, f"{bad}:3:", "UTF-8", "column 11")
    assert out == ""


@pytest.mark.parametrize("command", ["eval", "score"])
@pytest.mark.parametrize("damage", ["missing", "truncated", "flipped", "text", "gzip"])
def test_error_model_file(capsys, toy, toy_lm, tmp_path, command, damage):
    p = tmp_path / "lm.rnnlm"
    raw = toy_lm.read_bytes()
    content = {"truncated": raw[: len(raw) // 2], "flipped": raw[:-200] + bytes([raw[-200] ^ 1]) + raw[-199:],
               "text": b"hello world\n", "gzip": gzip.compress(raw)}.get(damage)
    if content is not None:
        p.write_bytes(content)
    rc, out, err = run_main(capsys, command, "--model", str(p), "--text", str(toy["test"]))
    needle = {"missing": "not exist", "truncated": "truncated", "flipped": "checksum", "text": "text file",
              "gzip": "gzip"}[damage]
    assert_one_line_error(rc, out, err, str(p), needle)
    assert out == ""


def test_error_invalid_utf8_on_stdin(capsys, toy_lm, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the noun1\nthe \xe2\x82 noun2\n")))
    rc, out, err = run_main(capsys, "score", "--model", str(toy_lm), "--text", "-")
    assert_one_line_error(rc, out, err, "<stdin>:2:", "UTF-8", "column 5")
    assert out == ""


# --- dynamic evaluation, generation, backward models ---------------------------------
def test_cli_eval_dynamic(tmp_path, capsys, trained_sigmoid, valid_corpus):
    path = tmp_path / "m.rnnlm"
    trained_sigmoid.save(path)
    ppl = {}
    for rate in ("0", "0.1"):
        assert main(["eval", "--model", str(path), "--text", str(valid_corpus), "--dynamic", rate,
                     "--quiet"]) == 0
        out = capsys.readouterr().out
        ppl[rate] = float(re.search(r"PPL ([0-9.]+)", out).group(1))
    assert ppl["0"] == pytest.approx(trained_sigmoid.perplexity(valid_corpus).ppl, rel=1e-4)
    assert ppl["0.1"] == pytest.approx(trained_sigmoid.perplexity(valid_corpus, dynamic=0.1).ppl, rel=1e-4)
    assert ppl["0.1"] != pytest.approx(ppl["0"], rel=1e-3)
    # --per-word lines are the dynamic scores, and they add up to the reported log10 prob
    assert main(["eval", "--model", str(path), "--text", str(valid_corpus), "--dynamic", "0.1", "--per-word",
                 "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    values = [float(line.split("\t")[1]) for line in out if "\t" in line]
    expected = trained_sigmoid.perplexity(valid_corpus, dynamic=0.1, per_word=True).word_log10
    assert np.allclose(values, expected, atol=1e-6)


def test_cli_generate(tmp_path, trained_gru, capsys):
    path = tmp_path / "m.rnnlm"
    trained_gru.save(path)
    assert main(["generate", "--model", str(path), "--n", "4", "--seed", "3", "--prefix", "w1 w2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("w1 w2") for line in lines)
    assert [line[len("w1 w2"):].strip() for line in lines] == trained_gru.generate(4, prefix="w1 w2", seed=3)


def test_cli_train_backward_eval_and_generate(corpus, valid_corpus, tmp_path, capsys):
    out = tmp_path / "b.rnnlm"
    assert main(["train", "--train", str(corpus), "--valid", str(valid_corpus), "--output", str(out),
                 "--classes", "5", "--hidden", "8", "--max-epochs", "1", "--backward", "--no-checkpoint",
                 "--quiet"]) == 0
    model = RNNLM.load(out)
    assert model.direction == "backward"
    text = tmp_path / "t.txt"
    text.write_text("w1 w2 w3\nw4 w5\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--text", str(text), "--per-word", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    words = [line.split("\t")[0] for line in lines[:7]]
    assert words == ["w1", "w2", "w3", "</s>", "w4", "w5", "</s>"]
    per_word = np.array([float(line.split("\t")[1]) for line in lines[:7]])
    np.testing.assert_allclose(per_word,
                               np.concatenate(model.score_words(["w1 w2 w3", "w4 w5"], independent=False)),
                               atol=1e-6)
    probs = tmp_path / "p.txt"
    probs.write_text("0.1\n" * 7, encoding="utf-8")
    assert main(["eval", "--model", str(out), "--text", str(text), "--lm-prob", str(probs), "--quiet"]) == 2
    assert "backward model" in capsys.readouterr().err
    assert main(["generate", "--model", str(out), "--n", "3", "--prefix", "w9"]) == 0
    assert all(line.endswith(" w9") or line == "w9" for line in capsys.readouterr().out.splitlines())


# --- text that does not fit the model: case, unknown words (issue 13, item 1) ----------------
UPPER = ["THE NOUN1 VERB1", "THE NOUN2 VERB2 THE NOUN3", "A NOUN1 VERB3"]


@pytest.mark.parametrize("command", ["eval", "score"])
def test_uppercase_text_on_a_lowercase_model_fails_loudly(capsys, toy_lm, tmp_path, command):
    p = tmp_path / "upper.txt"
    p.write_text("\n".join(UPPER) + "\n", encoding="utf-8")
    rc, out, err = run_main(capsys, command, "--model", str(toy_lm), "--text", str(p), "--quiet")
    assert_one_line_error(rc, out, err, str(p) if command == "eval" else "the text",
                          "not in the model's vocabulary", "lowercase", "--case lower", "--max-oov-rate")
    assert out == ""
    # allowed: the scores, and the warning as one line on stderr naming the problem
    rc, out, err = run_main(capsys, command, "--model", str(toy_lm), "--text", str(p), "--max-oov-rate", "1")
    assert rc == 0 and out
    assert err.count("\n") == 1 and err.startswith("rnnlm-fast: warning: ") and "--case lower" in err, err
    # mapped to the model's case: the lowercase text's result, no warning
    lower = tmp_path / "lower.txt"
    lower.write_text("\n".join(s.lower() for s in UPPER) + "\n", encoding="utf-8")
    rc, mapped, err = run_main(capsys, command, "--model", str(toy_lm), "--text", str(p), "--case", "lower")
    assert rc == 0 and err == "", err
    rc, plain, _ = run_main(capsys, command, "--model", str(toy_lm), "--text", str(lower))
    untimed = [re.sub(r"\(\d+ words/s\)", "", out.replace(str(f), "<text>"))
               for out, f in ((mapped, p), (plain, lower))]
    assert untimed[0] == untimed[1]


def test_score_warns_when_many_words_are_unknown(capsys, toy_lm, tmp_path):
    p = tmp_path / "mixed.txt"
    p.write_text("".join(f"the noun1 zzz{i} verb1\n" for i in range(12)), encoding="utf-8")  # 25% unknown
    rc, out, err = run_main(capsys, "score", "--model", str(toy_lm), "--text", str(p))
    assert rc == 0 and len(out.splitlines()) == 12
    assert err.startswith("rnnlm-fast: warning: 12 of 48 words (25.0%)") and err.count("\n") == 1, err


def test_score_keys(capsys, toy_lm, tmp_path):
    """--keys: the first field is an utterance key (Kaldi's text), not a word: key<TAB>score."""
    p = tmp_path / "text"
    p.write_text("utt1 the noun1 verb1\nutt-2\tthe noun2 verb2 the noun3\nutt3\n", encoding="utf-8")
    rc, out, err = run_main(capsys, "score", "--model", str(toy_lm), "--text", str(p), "--keys")
    assert rc == 0, err
    want = RNNLM.load(toy_lm).score(["the noun1 verb1", "the noun2 verb2 the noun3", ""])
    rows = [line.split("\t") for line in out.splitlines()]
    assert [k for k, _ in rows] == ["utt1", "utt-2", "utt3"]
    assert all(FLOAT_LINE.match(v) for _, v in rows)
    np.testing.assert_allclose([float(v) for _, v in rows], want, atol=1e-6, rtol=0)
    p.write_text("utt1 the noun1\n\n", encoding="utf-8")
    rc, out, err = run_main(capsys, "score", "--model", str(toy_lm), "--text", str(p), "--keys")
    assert_one_line_error(rc, out, err, f"{p}:2:", "utterance key")


@pytest.mark.parametrize("command", ["eval", "score"])
def test_nul_bytes_are_refused_by_eval_and_score_alike(capsys, toy_lm, tmp_path, command):
    p = tmp_path / "nul.txt"
    p.write_bytes(b"the noun1 verb1\nthe noun2 \x00 verb2\n")
    rc, out, err = run_main(capsys, command, "--model", str(toy_lm), "--text", str(p))
    assert_one_line_error(rc, out, err, f"{p}:2:", "NUL byte", "column 11")
    assert out == ""


@pytest.mark.parametrize("with_unk", [True, False])
def test_eval_per_word_prints_the_input_words_and_a_total_they_sum_to(capsys, tmp_path, with_unk):
    train = tmp_path / "train.txt"
    train.write_text("the cat sat\nthe dog sat\n" * 20 + ("the <unk> sat\n" if with_unk else ""),
                     encoding="utf-8")
    vocab = Vocabulary.from_corpus(train, classes=2)
    assert ("<unk>" in vocab) == with_unk
    model_path = tmp_path / "m.rnnlm"
    RNNLM(vocab, hidden=6, seed=1).save(model_path)
    text = tmp_path / "test.txt"
    text.write_text("the cat sat\nthe zebra sat\nthe cat purred\n", encoding="utf-8")
    rc, out, err = run_main(capsys, "eval", "--model", str(model_path), "--text", str(text), "--per-word")
    assert rc == 0, err
    rows = [line.split("\t") for line in out.splitlines() if "\t" in line]
    assert [w for w, _ in rows] == "the cat sat </s> the zebra sat </s> the cat purred </s>".split()
    column = sum(float(v) for _, v in rows)
    total = re.search(r"^log10 prob with OOV (-?\d+\.\d\d) ", out, re.M)
    assert total, out
    assert f"{column:.2f}" == total.group(1)  # the per-word column sums to a printed, labelled total
    in_vocab = float(re.search(r"^log10 prob (-?\d+\.\d\d) ", out, re.M).group(1))
    known = sum(float(v) for w, v in rows if w not in ("zebra", "purred"))
    assert f"{known:.2f}" == f"{in_vocab:.2f}"  # and the in-vocabulary total is theirs without the OOV words
