"""Kaldi n-best (``text``, ``acwt``, ``lmwt``): round trip, explicit paths, broken files."""

from __future__ import annotations

import pytest
from nbest_samples import assert_same, expect_error, sample_lists

from rnnlm_fast.errors import MissingFileError
from rnnlm_fast.nbest import read_kaldi_nbest, read_nbest, write_kaldi_nbest


def test_kaldi_round_trip_negates_costs(tmp_path):
    lists = sample_lists()
    write_kaldi_nbest(tmp_path / "nb", lists)
    first_cost = (tmp_path / "nb" / "acwt").read_text().splitlines()[0].split()
    assert first_cost[0] == "1272-128104-0000-1"
    assert float(first_cost[1]) == -lists[0].hyps[0].scores["am"]  # cost = -ln p
    assert_same(read_kaldi_nbest(tmp_path / "nb"), lists, keys=("am", "lm"), tol=0)
    assert_same(read_nbest(tmp_path / "nb"), lists, keys=("am", "lm"), tol=0)
    assert_same(read_nbest(tmp_path / "nb" / "text"), lists, keys=("am", "lm"), tol=0)


def test_kaldi_explicit_paths(tmp_path):
    lists = sample_lists()
    write_kaldi_nbest(tmp_path, lists)
    (tmp_path / "acwt").rename(tmp_path / "ac_cost")
    got = read_kaldi_nbest(tmp_path, acwt=tmp_path / "ac_cost")
    assert_same(got, lists, keys=("am", "lm"), tol=0)


def test_kaldi_malformed(tmp_path):
    lists = sample_lists()
    d = tmp_path / "nb"
    write_kaldi_nbest(d, lists)
    text = (d / "text").read_text().splitlines()
    acwt = (d / "acwt").read_text().splitlines()

    (d / "text").write_text("\n".join([text[0], "no_rank_here a b", *text[2:]]) + "\n")
    expect_error(lambda: read_kaldi_nbest(d), d / "text", 2, "expected a key '<utt-id>-<N>'")
    (d / "text").write_text("\n".join(text) + "\n")

    (d / "acwt").write_text("\n".join([*acwt[:2], acwt[2].split()[0] + " abc", *acwt[3:]]) + "\n")
    expect_error(lambda: read_kaldi_nbest(d), d / "acwt", 3, "expected a cost (a number)")

    (d / "acwt").write_text("\n".join([*acwt[:2], "1272-128104-0000-9 1.0", *acwt[2:]]) + "\n")
    expect_error(lambda: read_kaldi_nbest(d), d / "acwt", 3, "is not in")

    (d / "acwt").write_text("\n".join(acwt[1:]) + "\n")
    expect_error(lambda: read_kaldi_nbest(d), d / "acwt", None, "'1272-128104-0000-1'")

    (d / "acwt").unlink()
    with pytest.raises(MissingFileError, match="acwt"):
        read_kaldi_nbest(d)
