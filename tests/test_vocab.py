"""The vocabulary (rnnlm_fast/vocab.py): its file format, every malformed line reported by line
number, round trips, and a model loaded with a vocabulary that differs from its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpora import sentences, write_text
from helpers import CLASSES, said

from rnnlm_fast import RNNLM, Vocabulary, VocabularyError, VocabularyMismatchError


# --- malformed vocabulary files --------------------------------------------------------
def edit_vocab_line(src: Path, dst: Path, lineno: int, new: str | None) -> Path:
    lines = src.read_text(encoding="utf-8").split("\n")
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    dst.write_text("\n".join(lines), encoding="utf-8")
    return dst


def id_line(i: int) -> int:
    """Line of word id ``i`` in a saved vocabulary (after the two header lines)."""
    return i + 3


@pytest.mark.parametrize("case", ["header", "field-count", "too-many-fields", "count", "class", "id-order",
                                  "missing-id", "non-contiguous-class", "class-goes-back", "first-class",
                                  "duplicate", "empty-word", "first-word", "negative-count"])
def test_malformed_vocabulary_file(tmp_path, toy, toy_vocab, case):
    src = toy["vocab"]
    w = toy_vocab.words
    c = toy_vocab.word_class.tolist()
    k = next(i for i in range(2, len(w)) if c[i] == c[i - 1] and c[i] > 0)  # inside a class, not the first
    edits = {
        "header": (1, "# some other format v1"),
        "field-count": (id_line(5), f"5\t{w[5]}\t3"),
        "too-many-fields": (id_line(5), f"5\t{w[5]}\t3\t{c[5]}\textra"),
        "count": (id_line(5), f"5\t{w[5]}\tmany\t{c[5]}"),
        "class": (id_line(5), f"5\t{w[5]}\t3\tone"),
        "id-order": (id_line(5), f"6\t{w[5]}\t3\t{c[5]}"),
        "missing-id": (id_line(5), None),
        "non-contiguous-class": (id_line(k), f"{k}\t{w[k]}\t3\t{c[k] + 2}"),
        "class-goes-back": (id_line(k), f"{k}\t{w[k]}\t3\t{c[k] - 1}"),
        "first-class": (id_line(0), "0\t</s>\t3\t1"),
        "duplicate": (id_line(6), f"6\t{w[2]}\t3\t{c[6]}"),
        "empty-word": (id_line(6), f"6\t\t3\t{c[6]}"),
        "first-word": (id_line(0), "0\tnot-eos\t3\t0"),
        "negative-count": (id_line(6), f"6\t{w[6]}\t-3\t{c[6]}"),
    }
    lineno, new = edits[case]
    p = edit_vocab_line(src, tmp_path / "bad_vocab.txt", lineno, new)
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(p)
    msg = said(e.value, p, lineno)
    if case == "duplicate":
        assert repr(w[2]) in msg and f"line {id_line(2)}" in msg, msg


def test_vocabulary_file_invalid_utf8_and_empty(tmp_path, toy):
    raw = toy["vocab"].read_bytes().split(b"\n")
    raw[id_line(4) - 1] = b"4\tw\xff\t3\t0"
    p = tmp_path / "bad_utf8.txt"
    p.write_bytes(b"\n".join(raw))
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(p)
    assert "UTF-8" in said(e.value, p, id_line(4))
    empty = tmp_path / "empty_vocab.txt"
    empty.write_text("# rnnlm-fast vocabulary v1\n# words=0 classes=0\n")
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(empty)
    assert "empty" in said(e.value, empty)
    model_as_vocab = toy["model"]
    with pytest.raises(VocabularyError) as e:
        Vocabulary.load(model_as_vocab)
    assert "not an rnnlm-fast vocabulary" in said(e.value, model_as_vocab, 1)


# --- round trips -----------------------------------------------------------------------
def test_vocabulary_round_trip_with_crlf(tmp_path, toy, toy_vocab):
    p = tmp_path / "crlf_vocab.txt"
    p.write_bytes(toy["vocab"].read_bytes().replace(b"\n", b"\r\n"))
    assert Vocabulary.load(p) == toy_vocab


def test_vocabulary_with_unusual_characters_round_trips(tmp_path):
    corpus = write_text(tmp_path / "u.txt",
                        ["caf\u00e9 na\u00efve \u00a0nbsp\u00a0word x\u2028y", "caf\u00e9 x"])
    v = Vocabulary.from_corpus(corpus, classes=2)
    v.save(tmp_path / "u.vocab")
    assert Vocabulary.load(tmp_path / "u.vocab") == v


# --- a model loaded with another vocabulary (Vocabulary.check_same) ---------------------
def test_load_with_the_same_vocabulary(toy, toy_vocab):
    assert RNNLM.load(toy["model"], vocab=toy_vocab).vocab == toy_vocab
    assert RNNLM.load(toy["model"], vocab=Vocabulary.load(toy["vocab"])).vocab == toy_vocab


def test_load_with_swapped_words(toy, toy_vocab):
    words = list(toy_vocab.words)
    words[3], words[4] = words[4], words[3]
    other = Vocabulary(words, toy_vocab.counts, toy_vocab.word_class)
    with pytest.raises(VocabularyMismatchError) as e:
        RNNLM.load(toy["model"], vocab=other)
    msg = said(e.value, toy["model"])
    assert "id 3" in msg, msg
    assert repr(words[3]) in msg and repr(toy_vocab.words[3]) in msg, msg


def test_load_with_a_vocabulary_from_another_corpus(tmp_path, toy, toy_vocab):
    lines = [s.replace("noun", "thing") for s in sentences(300, seed=0)] + ["extra words here"]
    other = Vocabulary.from_corpus(write_text(tmp_path / "other.txt", lines), classes=CLASSES)
    with pytest.raises(VocabularyMismatchError) as e:
        RNNLM.load(toy["model"], vocab=other)
    msg = said(e.value, toy["model"])
    first = next(i for i, (a, b) in enumerate(zip(toy_vocab.words, other.words)) if a != b)
    assert (f"id {first}" in msg and repr(other.words[first]) in msg
            and repr(toy_vocab.words[first]) in msg), msg


def test_load_with_a_longer_vocabulary(toy, toy_vocab):
    other = Vocabulary(list(toy_vocab.words) + ["zzz"], list(toy_vocab.counts) + [1],
                       list(toy_vocab.word_class) + [int(toy_vocab.word_class[-1])])
    with pytest.raises(VocabularyMismatchError) as e:
        RNNLM.load(toy["model"], vocab=other)
    msg = said(e.value, toy["model"])
    assert f"id {len(toy_vocab)}" in msg and "'zzz'" in msg, msg
