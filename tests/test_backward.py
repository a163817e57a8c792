"""Backward models: each sentence read from its last word to its first, ``</s>`` still last.

A backward model must be exactly a forward model of the text with every sentence's words
reversed, while its API takes and returns text in the usual order.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.errors import ConfigError, ModelFormatError
from rnnlm_fast.model_file import read_model, write_model


def _reverse_lines(src: Path, dst: Path) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines()
    dst.write_text("".join(" ".join(reversed(line.split())) + "\n" for line in lines), encoding="utf-8")
    return dst


def _pair(vocab: Vocabulary, **kw) -> tuple[RNNLM, RNNLM]:
    """A forward and a backward model with the same initial weights."""
    fwd = RNNLM(vocab, seed=3, **kw)
    bwd = RNNLM(vocab, seed=3, direction="backward", **kw)
    for name, w in fwd.weights().items():
        assert np.array_equal(w, bwd.weights()[name])
    return fwd, bwd


SENTENCES = ["w1 w8 w3", "w5", "w2 zz w9 w9 w0", "", "w7 w7 w4 w11"]


@pytest.fixture
def vocab(corpus) -> Vocabulary:
    return Vocabulary.from_corpus(corpus, classes=6)


@pytest.mark.parametrize("cell,direct", [("sigmoid", 0), ("gru", 4096)])
def test_scores_are_the_forward_scores_of_the_reversed_sentences(vocab, cell, direct):
    fwd, bwd = _pair(vocab, hidden=12, cell=cell, direct=direct)
    reversed_text = [" ".join(reversed(s.split())) for s in SENTENCES]
    for independent in (True, False):
        # the same terms, summed in another order
        np.testing.assert_allclose(bwd.score(SENTENCES, independent=independent),
                                   fwd.score(reversed_text, independent=independent), rtol=1e-13)
    # per-word results come back in text order, </s> last
    for got, want in zip(bwd.score_words(SENTENCES), fwd.score_words(reversed_text)):
        np.testing.assert_array_equal(got, np.r_[want[:-1][::-1], want[-1:]])
    got = bwd.word_logprobs("w2 zz w9", oov="penalty", oov_penalty=-7.0)
    assert got[1] == -7.0 and got[0] != -7.0
    want = fwd.word_logprobs("w9 zz w2", oov="penalty", oov_penalty=-7.0)
    np.testing.assert_array_equal(got, want[[2, 1, 0, 3]])  # </s> compared too, not with itself


def test_training_equals_forward_training_on_reversed_text(vocab, corpus, valid_corpus, tmp_path):
    fwd, bwd = _pair(vocab, hidden=10, direct=2048)
    opts = dict(max_epochs=2, bptt=3, bptt_block=4, dropout=0.2, input_dropout=0.1, threads=1, progress=False)
    rev_train = _reverse_lines(corpus, tmp_path / "train.rev")
    rev_valid = _reverse_lines(valid_corpus, tmp_path / "valid.rev")
    fwd.train(rev_train, rev_valid, **opts)
    bwd.train(corpus, valid_corpus, **opts)
    for name, w in fwd.weights().items():
        assert np.array_equal(w, bwd.weights()[name]), name
    assert [r.valid_ppl for r in bwd.history] == [r.valid_ppl for r in fwd.history]
    # and it learned: the reversed valid text is as likely to the backward model as to the forward one
    assert bwd.perplexity(valid_corpus).ppl == pytest.approx(fwd.perplexity(rev_valid).ppl, rel=1e-12)
    assert bwd.perplexity(valid_corpus).ppl < 0.8 * bwd.perplexity(rev_valid).ppl


def test_perplexity_per_word_in_text_order(vocab, valid_corpus, tmp_path):
    fwd, bwd = _pair(vocab, hidden=8)
    rev = _reverse_lines(valid_corpus, tmp_path / "valid.rev")
    got, want = bwd.perplexity(valid_corpus, per_word=True), fwd.perplexity(rev, per_word=True)
    assert got.ppl == want.ppl
    enc = fwd.encode_file(rev)
    for a, b in zip(enc.offsets[:-1], enc.offsets[1:]):
        np.testing.assert_array_equal(got.word_log10[a:b - 1], want.word_log10[a:b - 1][::-1])
        assert got.word_log10[b - 1] == want.word_log10[b - 1]


def test_save_load_keeps_the_direction_and_needs_a_version_2_reader(vocab, tmp_path):
    fwd, bwd = _pair(vocab, hidden=8)
    fwd.save(tmp_path / "f.rnnlm")
    bwd.save(tmp_path / "b.rnnlm")
    # forward files stay readable by version-1 readers; backward ones would be misread there
    assert struct.unpack("<I", (tmp_path / "f.rnnlm").read_bytes()[8:12])[0] == 1
    assert struct.unpack("<I", (tmp_path / "b.rnnlm").read_bytes()[8:12])[0] == 2
    loaded = RNNLM.load(tmp_path / "b.rnnlm")
    assert loaded.direction == "backward" and RNNLM.load(tmp_path / "f.rnnlm").direction == "forward"
    assert "backward" in repr(loaded)
    np.testing.assert_array_equal(loaded.score(SENTENCES), bwd.score(SENTENCES))
    header, arrays = read_model(tmp_path / "b.rnnlm")
    header.pop("sections")
    header["config"]["direction"] = "sideways"
    write_model(tmp_path / "bad.rnnlm", header, arrays, version=2)
    with pytest.raises(ModelFormatError, match="bad.rnnlm.*direction 'sideways'"):
        RNNLM.load(tmp_path / "bad.rnnlm")
    with pytest.raises(ConfigError, match="direction"):
        RNNLM(vocab, direction="reverse")


def test_text_encoded_for_the_other_direction_is_refused(vocab, valid_corpus):
    fwd, bwd = _pair(vocab, hidden=8)
    with pytest.raises(ConfigError, match="encoded for a forward model"):
        bwd.perplexity(fwd.encode_file(valid_corpus))
    with pytest.raises(ConfigError, match="encoded for a backward model"):
        fwd.train(bwd.encode_file(valid_corpus), fwd.encode_file(valid_corpus), max_epochs=1, progress=False)


def test_generate_and_next_word_read_right_to_left(vocab):
    fwd, bwd = _pair(vocab, hidden=8)
    got = bwd.generate(4, prefix="w3 w4", seed=9)
    want = fwd.generate(4, prefix="w4 w3", seed=9)
    assert got == [" ".join(reversed(s.split())) for s in want]
    np.testing.assert_array_equal(bwd.next_word_distribution(["w1", "w2"]),
                                  fwd.next_word_distribution(["w2", "w1"]))


def test_checkpoint_resume_keeps_the_direction(vocab, corpus, valid_corpus, tmp_path):
    bwd = RNNLM(vocab, hidden=8, seed=2, direction="backward")
    ckpt = tmp_path / "b.ckpt"
    bwd.train(corpus, valid_corpus, max_epochs=1, threads=1, progress=False, checkpoint=ckpt)
    resumed = RNNLM.resume(ckpt, corpus, valid_corpus, threads=1, progress=False)
    assert resumed.direction == "backward"

