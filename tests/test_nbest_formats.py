"""All formats together: detection, ``read_nbest``/``write_nbest``, what every reader and writer checks."""

from __future__ import annotations

import pytest
from nbest_samples import assert_same, expect_error, sample_lists

from rnnlm_fast.errors import MissingFileError
from rnnlm_fast.nbest import (
    FORMATS,
    Hypothesis,
    NbestList,
    detect_format,
    read_nbest,
    read_rnnlm_nbest,
    read_srilm_nbest,
    read_text,
    read_tsv_nbest,
    write_nbest,
    write_rnnlm_nbest,
    write_tsv_nbest,
)

# The scores each format keeps (its writer's docstring), and where write_nbest puts them.
KEPT = {"rnnlm": (), "kaldi": ("am", "lm"), "espnet": ("am",), "srilm": ("am", "lm"), "tsv": ("am", "lm")}
TARGET = {"rnnlm": "nbest.txt", "kaldi": "kaldi", "espnet": "espnet", "srilm": "srilm", "tsv": "nbest.tsv"}


def test_every_format_has_a_writer_and_a_target():
    assert FORMATS == ("rnnlm", "kaldi", "espnet", "srilm", "tsv")
    assert set(KEPT) == set(TARGET) == set(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_nbest_round_trips_through_detection(tmp_path, fmt):
    lists = sample_lists()
    path = tmp_path / TARGET[fmt]
    write_nbest(path, lists, fmt)
    assert detect_format(path) == fmt
    for got in (read_nbest(path), read_nbest(path, fmt)):
        by_utt = {n.utt_id: n for n in got}  # SRILM directories are read in file-name order
        assert_same([by_utt[n.utt_id] for n in lists], lists, keys=KEPT[fmt], tol=1e-9)


def test_write_nbest_writes_what_the_format_writer_writes(tmp_path):
    lists = sample_lists(keys=("am", "lm", "rnnlm"))
    write_nbest(tmp_path / "a.tsv", lists, "tsv")
    write_tsv_nbest(tmp_path / "b.tsv", lists)
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    write_nbest(tmp_path / "a.txt", lists, "rnnlm")
    write_rnnlm_nbest(tmp_path / "b.txt", lists)
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()


def test_write_nbest_passes_options_to_the_writer(tmp_path):
    lists = sample_lists(keys=("am", "lm", "rnnlm"))
    write_nbest(tmp_path / "n.tsv", lists, "tsv", score_names=["rnnlm"])
    assert (tmp_path / "n.tsv").read_text().splitlines()[0] == "utt_id\trank\trnnlm\ttext"
    write_nbest(tmp_path / "srilm", lists, "srilm", style="NBestList1.0")
    assert (tmp_path / "srilm" / "utt_b.nbest").read_text().splitlines()[0] == "NBestList1.0"
    with pytest.raises(TypeError):
        write_nbest(tmp_path / "x.txt", lists, "rnnlm", style="NBestList1.0")


def test_write_nbest_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="unknown n-best format 'htk'"):
        write_nbest(tmp_path / "x", sample_lists(), "htk")
    assert not (tmp_path / "x").exists()


def test_detect_format_from_the_first_line(tmp_path):
    cases = {
        "utt_id\trank\tam\ttext\nu\t1\t-1\ta\n": "tsv",
        "NBestList1.0\n(-10) a\n": "srilm",
        "(-10) a b\n": "srilm",
        "-1.5 -2.5 2 a b\n": "srilm",
        "-1.5 x 2 a b\n": "rnnlm",
        "u1 a b\n": "rnnlm",
        "": "rnnlm",
    }
    for i, (content, fmt) in enumerate(cases.items()):
        path = tmp_path / f"f{i}"
        path.write_text(content)
        assert detect_format(path) == fmt, content


def test_writers_reject_newlines_in_text(tmp_path):
    bad = [NbestList("u", [Hypothesis("a\nb", {"am": 0.0}, 1)])]
    with pytest.raises(ValueError, match="newline"):
        write_tsv_nbest(tmp_path / "x.tsv", bad)
    with pytest.raises(ValueError, match="newline"):
        write_rnnlm_nbest(tmp_path / "x.txt", bad)


@pytest.mark.parametrize("reader", ["rnnlm", "srilm", "tsv", "kaldi"])
def test_invalid_utf8_names_file_and_line(tmp_path, reader):
    body = {
        "rnnlm": (b"u1 a\nu1 caf\xe9\n", "nbest.txt"),
        "srilm": (b"-1 -2 1 a\n-1 -2 1 caf\xe9\n", "u1"),
        "tsv": (b"utt_id\trank\tam\ttext\nu\t1\t-1\tcaf\xe9\n", "n.tsv"),
        "kaldi": (b"u-1 a\nu-2 caf\xe9\n", "text"),
    }
    data, name = body[reader]
    p = tmp_path / name
    p.write_bytes(data)
    if reader == "kaldi":
        (tmp_path / "acwt").write_text("u-1 1\nu-2 2\n")
        (tmp_path / "lmwt").write_text("u-1 1\nu-2 2\n")
    expect_error(lambda: read_nbest(p, format=reader), p, 2, "invalid UTF-8")


def test_missing_file(tmp_path):
    for call in (
        lambda: read_nbest(tmp_path / "absent"),
        lambda: read_rnnlm_nbest(tmp_path / "absent"),
        lambda: read_tsv_nbest(tmp_path / "absent"),
        lambda: read_srilm_nbest(tmp_path / "absent"),
        lambda: read_text(tmp_path / "absent"),
    ):
        with pytest.raises(MissingFileError, match="absent"):
            call()


def test_unknown_format(tmp_path):
    p = tmp_path / "x"
    p.write_text("u a\n")
    with pytest.raises(ValueError, match="unknown n-best format"):
        read_nbest(p, format="htk")
