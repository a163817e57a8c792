"""rnnlm-0.4b ``-nbest`` text: round trip and broken files."""

from __future__ import annotations

import pytest
from nbest_samples import assert_same, expect_broken_file, sample_lists

from rnnlm_fast.nbest import read_nbest, read_rnnlm_nbest, write_rnnlm_nbest


def test_rnnlm_round_trip(tmp_path):
    lists = sample_lists()
    path = tmp_path / "nbest.txt"
    write_rnnlm_nbest(path, lists)
    assert path.read_text(encoding="utf-8").splitlines()[0] == (
        "1272-128104-0000 MISTER QUILTER IS THE APOSTLE"
    )
    assert_same(read_rnnlm_nbest(path), lists, keys=())
    assert_same(read_nbest(path), lists, keys=())


@pytest.mark.parametrize(
    "content, lineno, fragment",
    [
        ("u1 a b\nu1 a\n\nu2 c\n", 3, "expected '<id> <words>'"),
        ("u1 a b\nu2 a\nu2 c\nu1 d\n", 4, "ended at line 1"),
    ],
)
def test_rnnlm_malformed(tmp_path, content, lineno, fragment):
    expect_broken_file(tmp_path / "nbest.txt", read_rnnlm_nbest, content, lineno, fragment)
