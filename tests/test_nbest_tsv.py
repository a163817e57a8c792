"""The plain TSV n-best format: round trip, the ``espnet_score`` alias, broken files."""

from __future__ import annotations

import pytest
from nbest_samples import assert_same, expect_broken_file, sample_lists

from rnnlm_fast.nbest import read_nbest, read_tsv_nbest, write_tsv_nbest


def test_tsv_round_trip(tmp_path):
    lists = sample_lists(keys=("am", "lm", "rnnlm"))
    path = tmp_path / "nbest.tsv"
    write_tsv_nbest(path, lists)
    assert path.read_text().splitlines()[0] == "utt_id\trank\tam\tlm\trnnlm\ttext"
    assert_same(read_tsv_nbest(path), lists, keys=("am", "lm", "rnnlm"), tol=0)
    assert_same(read_nbest(path), lists, keys=("am", "lm", "rnnlm"), tol=0)


def test_tsv_reads_espnet_score_as_am(tmp_path):
    path = tmp_path / "dev.nbest.tsv"
    path.write_text("utt_id\trank\tespnet_score\ttext\nu\t2\t-5.5\tB\nu\t1\t-4.0\tA\n")
    (nbest,) = read_tsv_nbest(path)
    assert [(h.rank, h.text, h.scores) for h in nbest.hyps] == [
        (1, "A", {"am": -4.0}),
        (2, "B", {"am": -5.5}),
    ]


HEADER = "utt_id\trank\tam\ttext\n"


@pytest.mark.parametrize(
    "content, lineno, fragment",
    [
        ("utt\trank\tam\ttext\n", 1, "expected a header"),
        (HEADER + "u\t1\t-1.0\ta\nu\t2\t-2.0\n", 3, "expected 4 tab-separated fields but found 3"),
        (HEADER + "u\t0\t-1.0\ta\n", 2, "expected a rank"),
        (HEADER + "u\t1\t-1.0\ta\nu\t2\tnan\tb\n", 3, "found NaN"),
        (HEADER + "u\t1\t-1.0\ta\nu\t1\t-2.0\tb\n", 3, "first at line 2"),
    ],
)
def test_tsv_malformed(tmp_path, content, lineno, fragment):
    expect_broken_file(tmp_path / "n.tsv", read_tsv_nbest, content, lineno, fragment)
