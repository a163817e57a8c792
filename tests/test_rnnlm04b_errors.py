"""Broken rnnlm-0.4b model files: every malformed header, size mismatch, truncation and
unsupported structure is a ModelFormatError naming the file and the line (text) or the byte
offset (binary), raised before anything large is allocated."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest
from rnnlm04b_reference import assign_classes, write_model

from rnnlm_fast import MissingFileError, ModelFormatError, RNNLM, load_rnnlm04b
from rnnlm_fast.rnnlm04b import read_file

WORDS = ["</s>", "the", "cat", "sat", "on", "mat"]
COUNTS = [10, 9, 7, 5, 3, 2]
H, C, D, ORDER = 3, 2, 8, 2
VOCAB_LINE = 31  # the first vocabulary entry; the header's lines are numbered as rnnlm-0.4b writes them


def valid(tmp_path, binary=False, **change) -> bytes:
    net = dict(words=WORDS, counts=COUNTS, word_class=assign_classes(COUNTS, C, False), n_classes=C,
               direct_order=ORDER)
    net.update(change)
    rng = np.random.default_rng(0)
    V, n_classes = len(net["words"]), net["n_classes"]
    path = tmp_path / "valid.model"
    write_model(path, net["words"], net["counts"], net["word_class"], rng.normal(size=(H, V + H)),
                rng.normal(size=(V + n_classes, H)), rng.normal(size=net.pop("D", D)), n_classes,
                net["direct_order"], binary=binary)
    return path.read_bytes()


def replace_line(data: bytes, number: int, new: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[number - 1] = new
    return b"\n".join(lines)


def load_error(tmp_path, data: bytes, name: str = "broken.model") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(ModelFormatError) as e:
        load_rnnlm04b(p)
    assert str(e.value).startswith(str(p)), str(e.value)
    return str(e.value)


def test_the_valid_files_load(tmp_path):
    for binary in (False, True):
        (tmp_path / "m").write_bytes(valid(tmp_path, binary))
        model = load_rnnlm04b(tmp_path / "m")
        assert (len(model.vocab), model.hidden, model.n_classes, model.direct) == (6, 3, 2, 8)


# (line to replace, new content, expected message, with the line number)
TEXT_CASES = [
    (1, b"version: 9", r":1: model file version 9; rnnlm-0.4b's \(and 0.3e's\) is 10"),
    (2, b"file format: 2", r"header: file format 2, expected 0 \(text\) or 1 \(binary\)"),
    (3, b"colour: blue", r":3: not an rnnlm-0.4b model header line: 'colour: blue'"),
    (3, b"no colon here", r":3: not an rnnlm-0.4b model header line"),
    (14, b"hidden layer size: three", r":14: 'hidden layer size' is 'three', expected an integer"),
    (14, b"hidden layer size: 0", r"header: hidden layer size 0 outside 1\.\.100000"),
    (25, b"starting learning rate: fast", r":25: 'starting learning rate' is 'fast', expected a number"),
    (20, b"bptt: 5", r":20: header line 'bptt' appears twice"),
    (20, b"", r":30: the header lacks 'bptt block'"),
    (13, b"input layer size: 10", r"input layer size 10 is not vocabulary size . hidden layer size .6 . 3."),
    (16, b"output layer size: 9", r"output layer size 9 is not vocabulary size \+ class size \(6 \+ 2\)"),
    (15, b"compression layer size: 4", r"unsupported structure: a compression layer of 4 units"),
    (18, b"direct order: 21", r"direct order 21 outside 0\.\.20"),
    (17, b"direct connections: -5", r"direct connections -5 outside 0\.\."),
    (VOCAB_LINE + 2, b"     2\t7\tcat", r":33: vocabulary entry 2: expected 'index count word class'"),
    (VOCAB_LINE + 2, b"     5\t7\tcat\t0", r":33: vocabulary entry 2 is numbered 5"),
    (VOCAB_LINE + 2, b"     2\tmany\tcat\t0", r":33: vocabulary entry 2: count b'many' is not an integer"),
    (VOCAB_LINE + 2, b"     2\t-7\tcat\t0", r":33: vocabulary entry 2: count -7 or class 0 outside"),
    (VOCAB_LINE + 2, b"     2\t7\tc\xffat\t0", r":33: vocabulary entry 2: the word b'c\\xffat' is not UTF-8"),
    (VOCAB_LINE + 2, b"     2\t7\tthe\t0", r":33: invalid vocabulary: word 2 'the' appears twice"),
    (VOCAB_LINE, b"     0\t10\t<s>\t0", r":31: invalid vocabulary: word 0 '<s>' is not </s>"),
    (VOCAB_LINE + 2, b"     2\t7\tc\x0bat\t0", r":33: invalid vocabulary: word 2 .* contains whitespace"),
    (38, b"Hidden layer:", r":38: expected the section title 'Hidden layer activation:', found 'Hidden.*"),
    (45, b"0.5.5", r":45: in 'Weights 0->1:': expected a finite number, found '0\.5\.5'"),
    (45, b"nan", r":45: in 'Weights 0->1:': expected a finite number, found 'nan'"),
    (46, b"1e300", r":46: in 'Weights 0->1:': expected a finite number, found '1e300'"),
    (75, b"", r":75: in 'Weights 1->2:': expected a finite number, found ''"),
    (73, b"Weights 1->c:", r":73: expected the section title 'Weights 1->2:'"),
    (107, b"0.5\n0.25", r":108: unexpected content after the direct connections: '0\.25'"),
]


@pytest.mark.parametrize("line,new,message", TEXT_CASES, ids=[m[:40] for _, _, m in TEXT_CASES])
def test_a_broken_text_file_names_the_line(tmp_path, line, new, message):
    msg = load_error(tmp_path, replace_line(valid(tmp_path), line, new))
    assert re.search(message, msg), msg


@pytest.mark.parametrize("keep_lines,message", [
    (0, r"not an rnnlm-0.4b model: it does not start with 'version:'"),
    (20, r"truncated: the file ends after line 20, before the 'Vocabulary:' line"),
    (33, r"truncated: the file ends after line 33, before vocabulary entry 3 of 6"),
    (40, r"truncated: 36 bytes after the vocabulary \(line 36\) cannot hold the 62 numbers "
         r"the header's sizes need"),
])
def test_a_truncated_text_file_says_where_it_ends(tmp_path, keep_lines, message):
    data = valid(tmp_path)
    msg = load_error(tmp_path, b"\n".join(data.split(b"\n")[:keep_lines]) + (b"\n" if keep_lines else b""))
    assert re.search(message, msg), msg


def test_a_text_file_cut_inside_the_weights(tmp_path):
    lines = valid(tmp_path).split(b"\n")
    msg = load_error(tmp_path, b"\n".join(lines[:104]) + b"\n")  # the direct connections' 5th value ends it
    assert ("truncated: the file ends at line 104, inside 'Direct connections:' after 5 of its 8 numbers"
            in msg)


def test_sizes_are_checked_against_the_file_before_allocating(tmp_path):
    data = valid(tmp_path)
    for line, new in ((13, b"input layer size: 4000003"), (16, b"output layer size: 4000002"),
                      (21, b"vocabulary size: 4000000")):
        data = replace_line(data, line, new)
    assert "cannot hold the 4000000 vocabulary entries it declares" in load_error(tmp_path, data)
    data = valid(tmp_path, binary=True)
    for line, new in ((13, b"input layer size: 50006"), (14, b"hidden layer size: 50000")):
        data = replace_line(data, line, new)
    assert "the weights need bytes" in load_error(tmp_path, data)


def test_a_line_too_long_to_be_rnnlm04b_s(tmp_path):
    msg = load_error(tmp_path, b"version: 10\nfile format: 0\n" + b"x" * 70000 + b"\n")
    assert ":3: a line of more than 65536 bytes" in msg


def test_a_binary_file_names_byte_offsets(tmp_path):
    data = valid(tmp_path, binary=True)
    start = len(data) - 4 * (H + H * 9 + 8 * H + D)
    msg = load_error(tmp_path, data[:-3])
    assert (f"the weights need bytes {start}..{start + 4 * 62} after the vocabulary, "
            f"the file has {len(data) - 3}") in msg
    msg = load_error(tmp_path, data + b"\0\0\0\0")
    assert f"4 unexpected bytes after the direct connections, from byte offset {len(data)}" in msg
    bad = bytearray(data)
    bad[start + 4 * 5:start + 4 * 6] = np.array([np.inf], "<f4").tobytes()
    msg = load_error(tmp_path, bytes(bad))
    assert f"byte offset {start + 20}: weight inf is not finite" in msg


@pytest.mark.parametrize("change,message", [
    (dict(counts=[1, 1, 1, 1, 1, 100], n_classes=3, word_class=[0, 0, 0, 0, 0, 0]),
     r"unsupported structure: rnnlm-0.4b's class assignment from the counts leaves classes "
     r"1\.\.2 of 3 empty"),
    (dict(n_classes=7, word_class=[0, 1, 2, 3, 4, 5]), r"classes 6\.\.6 of 7 empty \(6 words\)"),
    (dict(D=5), r"unsupported structure: 5 direct connections, fewer than twice the number of classes "
                r"\(2\) or of words in the largest class \(3\)"),
    (dict(counts=[0] * 6), r"the word counts sum to 0"),
])
def test_structures_rnnlm_fast_cannot_hold(tmp_path, change, message):
    msg = load_error(tmp_path, valid(tmp_path, **change))
    assert re.search(message, msg), msg


def test_a_direct_table_without_order_or_an_order_without_table_is_no_direct_connections(tmp_path):
    for change in (dict(direct_order=0), dict(D=0)):
        (tmp_path / "m").write_bytes(valid(tmp_path, **change))
        model = load_rnnlm04b(tmp_path / "m")
        assert (model.direct, model.direct_order) == (0, 0)


def test_foreign_and_missing_files(tmp_path):
    with pytest.raises(MissingFileError):
        load_rnnlm04b(tmp_path / "absent")
    msg = load_error(tmp_path, gzip.compress(valid(tmp_path)))
    assert "not an rnnlm-0.4b model" in msg
    model = tmp_path / "fast.rnnlm"
    (tmp_path / "m").write_bytes(valid(tmp_path))
    load_rnnlm04b(tmp_path / "m").save(model)
    assert "not an rnnlm-0.4b model" in load_error(tmp_path, model.read_bytes())
    with pytest.raises(ModelFormatError, match="an rnnlm-0.4b model \\(convert it: rnnlm-fast convert"):
        RNNLM.load(tmp_path / "m")


def test_the_reader_keeps_the_header_it_does_not_use(tmp_path):
    (tmp_path / "m").write_bytes(valid(tmp_path))
    c = read_file(tmp_path / "m")
    assert c.info["training data file"] == "train.txt" and c.info["number of finished iterations"] == "3"
    assert (c.bptt, c.bptt_block, c.independent, c.lr_decrease, c.lr) == (5, 10, True, True, 0.05)
    assert c.vocab_line == VOCAB_LINE and np.all(c.hidden_state == 0.25)
