"""``rnnlm-fast convert``: model files between rnnlm-fast's format and rnnlm-0.4b's (text and
binary), either way, the input's format detected; its refusals are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from corpora import write_corpus
from helpers import assert_one_line_error, run_main
from rnnlm04b_reference import assign_classes, write_model

from rnnlm_fast import RNNLM, Vocabulary, load_rnnlm04b
from rnnlm_fast.convert import convert_model, detect_model_format
from rnnlm_fast.rnnlm04b import read_file

WORDS = ["</s>", "w1", "w2", "w3", "w4", "w5", "w6", "w7"]
COUNTS = [20, 15, 12, 9, 7, 5, 3, 1]


@pytest.fixture
def rnnlm04b_model(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "model.txt"
    write_model(path, WORDS, COUNTS, assign_classes(COUNTS, 3, False), rng.normal(size=(4, 12)),
                rng.normal(size=(11, 4)), rng.normal(size=40), 3, 3)
    return path


@pytest.fixture
def trained(tmp_path):
    corpus = write_corpus(tmp_path / "train.txt", 60, seed=2)
    model = RNNLM(Vocabulary.from_corpus(corpus, classes=5), hidden=6, seed=1, direct=300, direct_order=2,
                  direct_hash="rnnlm04b")
    model.train(corpus, corpus, max_epochs=1, progress=False)
    model.save(tmp_path / "trained.rnnlm")
    return tmp_path / "trained.rnnlm"


def test_rnnlm04b_to_rnnlm_fast_and_on_to_eval(capsys, tmp_path, rnnlm04b_model):
    out = tmp_path / "x.rnnlm"
    rc, stdout, err = run_main(capsys, "convert", str(rnnlm04b_model), "--output", str(out))
    assert rc == 0, err
    assert stdout == (f"{rnnlm04b_model} (rnnlm-0.4b) -> {out} (rnnlm-fast): 8 words, 3 classes, "
                      "4 hidden units, direct connections 40 of order 3\n")
    text = tmp_path / "t.txt"
    text.write_text("w1 w2 w3\nw7 w1\n")
    assert np.array_equal(RNNLM.load(out).perplexity(text, per_word=True).word_log10,
                          load_rnnlm04b(rnnlm04b_model).perplexity(text, per_word=True).word_log10)
    rc, stdout, err = run_main(capsys, "eval", "--model", str(out), "--text", str(text), "--quiet")
    assert rc == 0 and "PPL" in stdout.upper(), (stdout, err)


@pytest.mark.parametrize("binary", [False, True])
def test_rnnlm_fast_to_rnnlm04b_needs_its_biases_folded(capsys, tmp_path, trained, binary):
    out = tmp_path / "out.model"
    flags = ["--binary"] if binary else []
    rc, stdout, err = run_main(capsys, "convert", str(trained), "--output", str(out), *flags)
    assert_one_line_error(rc, stdout, err, "rnnlm-0.4b", "non-zero biases", "--fold-biases")
    assert not out.exists()
    rc, stdout, err = run_main(capsys, "convert", str(trained), "--output", str(out), "--fold-biases", *flags)
    assert rc == 0, err
    kind = "binary" if binary else "text"
    assert (f"-> {out} (rnnlm-0.4b {kind}): " in stdout
            and "6 hidden units (+1 holding the folded biases)" in stdout)
    content = read_file(out)
    assert content.binary == binary and content.hidden == 7
    assert detect_model_format(out) == "rnnlm04b" and detect_model_format(trained) == "rnnlm-fast"
    sentences = ["w1 w8 w15", "w3"]
    np.testing.assert_allclose(load_rnnlm04b(out).score(sentences), RNNLM.load(trained).score(sentences),
                               atol=1e-5)


def test_rnnlm04b_text_to_binary_and_back(tmp_path, rnnlm04b_model):
    model, src, dst = convert_model(rnnlm04b_model, tmp_path / "m.bin", binary=True)
    assert (src, dst) == ("rnnlm04b", "rnnlm04b")
    convert_model(tmp_path / "m.bin", tmp_path / "m.txt", to_format="rnnlm04b")
    a, b = read_file(rnnlm04b_model), read_file(tmp_path / "m.txt")
    assert np.array_equal(a.syn0, b.syn0) and np.array_equal(a.direct, b.direct) and not b.binary


@pytest.mark.parametrize("args,needles", [
    (["--to", "rnnlm-fast", "--binary"], ["--binary and --fold-biases are for rnnlm-0.4b output"]),
    (["--from", "rnnlm-fast"], ["given as rnnlm-fast, but the file is an rnnlm-0.4b model"]),
])
def test_contradictory_arguments(capsys, tmp_path, rnnlm04b_model, args, needles):
    rc, stdout, err = run_main(capsys, "convert", str(rnnlm04b_model), "--output", str(tmp_path / "o"), *args)
    assert_one_line_error(rc, stdout, err, "error:", *needles)


def test_output_checks(capsys, tmp_path, rnnlm04b_model):
    out = tmp_path / "o.rnnlm"
    out.write_text("keep me")
    rc, stdout, err = run_main(capsys, "convert", str(rnnlm04b_model), "--output", str(out))
    assert_one_line_error(rc, stdout, err, str(out), "exists; pass --overwrite")
    assert out.read_text() == "keep me"
    rc, stdout, err = run_main(capsys, "convert", str(rnnlm04b_model), "--output", str(rnnlm04b_model),
                               "--overwrite")
    assert_one_line_error(rc, stdout, err, str(rnnlm04b_model), "is the input model")
    rc, stdout, err = run_main(capsys, "convert", str(rnnlm04b_model), "--output", str(tmp_path / "no" / "o"))
    assert_one_line_error(rc, stdout, err, str(tmp_path / "no"), "does not exist")
    assert run_main(capsys, "convert", str(rnnlm04b_model), "--output", str(out), "--overwrite")[0] == 0
    assert detect_model_format(out) == "rnnlm-fast"


def test_input_checks(capsys, tmp_path):
    rc, stdout, err = run_main(capsys, "convert", str(tmp_path / "absent"), "--output", str(tmp_path / "o"))
    assert_one_line_error(rc, stdout, err, str(tmp_path / "absent"), "does not exist")
    text = tmp_path / "words.txt"
    text.write_text("the cat sat\n")
    rc, stdout, err = run_main(capsys, "convert", str(text), "--output", str(tmp_path / "o"))
    assert_one_line_error(rc, stdout, err, str(text), "neither an rnnlm-fast model nor an rnnlm-0.4b one",
                          "a text file")
    broken = tmp_path / "broken.txt"
    broken.write_text("version: 10\nfile format: 0\nhidden layer size: x\n")
    rc, stdout, err = run_main(capsys, "convert", str(broken), "--output", str(tmp_path / "o"))
    assert_one_line_error(rc, stdout, err, f"{broken}:3:", "'hidden layer size' is 'x'")


def test_help_lists_convert(capsys):
    with pytest.raises(SystemExit):
        run_main(capsys, "convert", "--help")
    out = capsys.readouterr().out
    assert "--fold-biases" in out and "--binary" in out and "{rnnlm-fast,rnnlm04b}" in out
