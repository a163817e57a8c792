"""Reading and encoding text (rnnlm_fast/encoding.py over csrc/text_reader.cc and corpus.cc):
every hostile corpus gets a CorpusError naming file, line and column; harmless formatting,
gzip, blank lines and huge words or lines encode as expected; unknown words map to <unk>.

Hermetic: generated corpora in ``tmp_path``, seeded, small models.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from corpora import sentences
from helpers import CLASSES, HIDDEN, said

from rnnlm_fast import RNNLM, ConfigError, CorpusError, Vocabulary


# --- empty text ------------------------------------------------------------------------
def test_empty_corpus(tmp_path, toy_model):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: toy_model.encode_file(p),
                 lambda: toy_model.perplexity(p)):
        with pytest.raises(CorpusError) as e:
            call()
        assert "empty" in said(e.value, p)


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\n\n", b" \t \r\n\n  "],
                         ids=["bom", "newlines", "spaces"])
def test_corpus_without_words(tmp_path, toy_model, content):
    p = tmp_path / "blank.txt"
    p.write_bytes(content)
    with pytest.raises(CorpusError) as e:
        Vocabulary.from_corpus(p, classes=CLASSES)
    assert "no words" in said(e.value, p)
    # As text to score, blank lines are empty sentences: only </s> is predicted.
    enc = toy_model.encode_file(p)
    assert enc.sentences == content.count(b"\n") + (not content.endswith(b"\n"))
    assert np.all(enc.ids == 0)


def test_empty_corpus_among_several(tmp_path, toy):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(CorpusError) as e:
        Vocabulary.from_corpus([toy["train"], p], classes=CLASSES)
    assert "empty" in said(e.value, p)


def test_blank_lines_are_empty_sentences(tmp_path):
    p = tmp_path / "blank_lines.txt"
    p.write_bytes(b"a b\n\n\r\n \t \nb a\n")
    vocab = Vocabulary.from_corpus(p, classes=2)
    assert vocab.counts[vocab["a"]] == 2 and vocab.corpus_lines == 5
    enc = RNNLM(vocab, hidden=4).encode_file(p)
    assert np.diff(enc.offsets).tolist() == [3, 1, 1, 1, 3]


# --- bytes that are not text -------------------------------------------------------------
BAD_UTF8 = {
    "invalid-start": b"\xff",
    "lone-continuation": b"\x80",
    "bad-continuation": b"\xc3\x28",
    "overlong": b"\xc0\xaf",
    "surrogate": b"\xed\xa0\x80",
    "above-max": b"\xf4\x90\x80\x80",
    "cut-sequence": b"\xe2\x82",
}


def corrupt_corpus(path: Path, line: int, payload: bytes, *, gz: bool = False) -> tuple[Path, int]:
    """A corpus whose line ``line`` (1-based) is ``noun1 verb2 <payload>x noun3``; returns the column."""
    lines = [s.encode() for s in sentences(20, seed=3)]
    prefix = b"noun1 verb2 "
    lines[line - 1] = prefix + payload + b"x noun3"
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if gz else data)
    return path, len(prefix) + 1


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", sorted(BAD_UTF8))
def test_invalid_utf8_names_file_line_and_column(tmp_path, toy_model, name, gz):
    p, column = corrupt_corpus(tmp_path / ("bad.txt.gz" if gz else "bad.txt"), 7, BAD_UTF8[name], gz=gz)
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: toy_model.encode_file(p)):
        with pytest.raises(CorpusError) as e:
            call()
        msg = said(e.value, p, 7)
        assert "UTF-8" in msg and f"column {column}" in msg, msg
        assert f"0x{BAD_UTF8[name][0]:02X}" in msg, msg


def test_invalid_utf8_on_first_line_after_bom(tmp_path):
    p = tmp_path / "bom_bad.txt"
    p.write_bytes(b"\xef\xbb\xbfab \xff cd\nnoun1 verb1\n")
    with pytest.raises(CorpusError) as e:
        Vocabulary.from_corpus(p, classes=CLASSES)
    assert "column 4" in said(e.value, p, 1)


def test_nul_byte(tmp_path, toy_model):
    p, column = corrupt_corpus(tmp_path / "nul.txt", 3, b"\x00")
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: toy_model.encode_file(p)):
        with pytest.raises(CorpusError) as e:
            call()
        msg = said(e.value, p, 3)
        assert "NUL" in msg and f"column {column}" in msg, msg


@pytest.mark.parametrize("cut", ["half", "no-trailer", "header-only"])
def test_truncated_gzip_corpus(tmp_path, toy, toy_model, cut):
    raw = gzip.compress(toy["train"].read_bytes())
    keep = {"half": len(raw) // 2, "no-trailer": len(raw) - 4, "header-only": 12}[cut]
    p = tmp_path / "train.txt.gz"
    p.write_bytes(raw[:keep])
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: toy_model.encode_file(p),
                 lambda: toy_model.perplexity(p)):
        with pytest.raises(CorpusError) as e:
            call()
        assert "gzip" in said(e.value, p)


# --- long lines and long words -----------------------------------------------------------
@pytest.mark.parametrize("shape", ["words", "one-token", "last-line-no-newline"])
def test_one_megabyte_line(tmp_path, toy_model, shape):
    big = b"x " * 500_000 if shape != "one-token" else b"y" * 1_000_000
    p = tmp_path / "long.txt"
    tail = b"" if shape == "last-line-no-newline" else b"\nnoun2 verb2\n"
    p.write_bytes(b"the noun1 verb1\nthe noun3 verb3\n" + big + tail)
    for call in (lambda: Vocabulary.from_corpus(p, classes=CLASSES), lambda: toy_model.encode_file(p)):
        with pytest.raises(CorpusError) as e:
            call()
        msg = said(e.value, p, 3)
        assert "max_line_bytes" in msg and "262144" in msg, msg
    # Raising the limit accepts the same file.
    v = Vocabulary.from_corpus(p, classes=CLASSES, max_line_bytes=2_000_000)
    word = "x" if shape != "one-token" else "y" * 1_000_000
    assert v.counts[v[word]] == (500_000 if shape != "one-token" else 1)
    enc = toy_model.encode_file(p, max_line_bytes=2_000_000)
    assert enc.sentences == (3 if shape == "last-line-no-newline" else 4)


def test_line_at_exactly_max_line_bytes_is_accepted(tmp_path):
    p = tmp_path / "edge.txt"
    p.write_bytes(b"ab " * 100 + b"\n" + b"cd " * 10 + b"\n")
    assert Vocabulary.from_corpus(p, classes=2, max_line_bytes=300)["ab"] > 0
    with pytest.raises(CorpusError) as e:
        Vocabulary.from_corpus(p, classes=2, max_line_bytes=299)
    assert "max_line_bytes" in said(e.value, p, 1)


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


def test_200kb_word_is_an_ordinary_word(tmp_path):
    """The guard against more than 2^31 distinct words (ids are int32) lives in ``csrc/vocab.cc``
    ``WordCounter::add_file``; it cannot be reached cheaply, so it is not tested."""
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


# --- harmless variations -----------------------------------------------------------------
def test_gzip_corpus_equals_plain(tmp_path, toy):
    p = tmp_path / "train.txt.gz"
    p.write_bytes(gzip.compress(toy["train"].read_bytes()))
    assert Vocabulary.from_corpus(p, classes=CLASSES) == Vocabulary.from_corpus(toy["train"], classes=CLASSES)


VARIANTS = {
    "crlf": lambda b: b.replace(b"\n", b"\r\n"),
    "bom": lambda b: b"\xef\xbb\xbf" + b,
    "tabs": lambda b: b.replace(b" ", b"\t"),
    "mixed-spaces": lambda b: b"  " + b.replace(b" ", b" \t  ").replace(b"\n", b" \t\n"),
    "no-final-newline": lambda b: b.rstrip(b"\n"),
    "all": lambda b: b"\xef\xbb\xbf" + b.replace(b" ", b"\t").replace(b"\n", b"\r\n").rstrip(b"\r\n"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_harmless_formatting_gives_the_same_vocabulary(tmp_path, toy, variant):
    clean = toy["train"]
    p = tmp_path / f"{variant}.txt"
    p.write_bytes(VARIANTS[variant](clean.read_bytes()))
    assert p.read_bytes() != clean.read_bytes()
    want = Vocabulary.from_corpus(clean, classes=CLASSES)
    got = Vocabulary.from_corpus(p, classes=CLASSES)
    assert got == want
    assert got.words == want.words and "\ufeff" not in "".join(got.words)
    assert (got.corpus_tokens, got.corpus_lines) == (want.corpus_tokens, want.corpus_lines)
    model = RNNLM(want, hidden=HIDDEN, seed=1)
    a, b = model.encode_file(clean), model.encode_file(p)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert model.perplexity(p).ppl == model.perplexity(clean).ppl


# --- sentences and unknown words ---------------------------------------------------------
@pytest.mark.parametrize("bad", [b"the noun1", ["the noun1", 3], [None]])
def test_score_wants_a_list_of_strings(toy_model, bad):
    with pytest.raises(ConfigError):
        toy_model.score(bad)


def test_score_of_a_str_is_one_sentence_as_kenlm_scores_it(toy_model):
    """One str is one sentence (KenLM's score(sentence)): a float, the list form's value."""
    got = toy_model.score("the noun1 verb1")
    assert isinstance(got, float) and got == float(toy_model.score(["the noun1 verb1"])[0])


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
