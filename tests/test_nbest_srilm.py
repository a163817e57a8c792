"""SRILM n-best lists (NBestList1.0, NBestList2.0, plain): round trips, bytelogs, broken files."""

from __future__ import annotations

import gzip
import math

import pytest
from nbest_samples import assert_same, expect_broken_file, expect_error, sample_lists

from rnnlm_fast.nbest import (
    Hypothesis,
    NbestList,
    bytelog_to_ln,
    ln_to_bytelog,
    read_nbest,
    read_srilm_nbest,
    write_srilm_nbest,
)


@pytest.mark.parametrize("style", ["plain", "NBestList1.0", "NBestList2.0"])
def test_srilm_round_trip(tmp_path, style):
    # NBestList1.0 has one composite score, read back as "am".
    keys = ("am",) if style == "NBestList1.0" else ("am", "lm")
    lists = sample_lists(keys=keys, grid=style != "plain")
    files = write_srilm_nbest(tmp_path / "srilm", lists, style=style)
    assert files[0].name == "1272-128104-0000.nbest"
    first = files[0].read_text(encoding="utf-8").splitlines()[0]
    assert first == style if style != "plain" else first.endswith("5 MISTER QUILTER IS THE APOSTLE")
    tol = 1e-9
    for reader in (read_srilm_nbest, read_nbest):
        got = reader(tmp_path / "srilm")
        got_by_utt = {n.utt_id: n for n in got}  # a directory is read in file-name order
        assert_same([got_by_utt[n.utt_id] for n in lists], lists, keys=keys, tol=tol)
    single = read_nbest(files[2])
    assert_same(single, lists[2:], keys=keys, tol=tol)


def test_srilm_plain_is_log10(tmp_path):
    lists = [NbestList("u", [Hypothesis("a b", {"am": -math.log(10) * 2.5, "lm": -math.log(10)}, 1)])]
    (f,) = write_srilm_nbest(tmp_path, lists)
    ascore, lscore, nwords, *_ = f.read_text().split()
    assert float(ascore) == pytest.approx(-2.5) and float(lscore) == pytest.approx(-1.0)
    assert nwords == "2"


def test_bytelog_conversion_matches_definition():
    # A bytelog is log base 1.0001 divided by 1024 (SRILM nbest-format(5)).
    for b in (-1, -7, -1234):
        assert bytelog_to_ln(b) == pytest.approx(b * 1024 * math.log(1.0001), rel=1e-5)
    assert ln_to_bytelog(math.log(0.5)) == -7
    assert ln_to_bytelog(bytelog_to_ln(-1234)) == -1234


def test_srilm_decipher_rounds_off_grid_scores(tmp_path):
    lists = sample_lists(keys=("am", "lm"), grid=False)
    write_srilm_nbest(tmp_path, lists, style="NBestList2.0")
    got = {n.utt_id: n for n in read_srilm_nbest(tmp_path)}
    half_step = 0.5 * 1024 / 10000.5
    for n in lists:
        for g, w in zip(got[n.utt_id].hyps, n.hyps):
            assert abs(g.scores["lm"] - w.scores["lm"]) <= half_step + 1e-12
            assert abs(g.scores["am"] - w.scores["am"]) <= half_step + 1e-12


def test_srilm_nbest2_skips_phone_tokens(tmp_path):
    # Phone tokens start inside the preceding word and are not words (SRILM's rule).
    line = (
        "(-30) HELLO ( st: 0.00 et: 0.40 g: -10 a: -15 ) "
        "h ( st: 0.00 et: 0.10 g: 0 a: -5 ) "
        "WORLD ( st: 0.41 et: 0.80 g: -2 a: -3 )"
    )
    path = tmp_path / "u1.gz.txt"
    path.write_text("NBestList2.0\n" + line + "\n")
    (nbest,) = read_srilm_nbest(path)
    assert nbest.utt_id == "u1.gz"
    (hyp,) = nbest.hyps
    assert hyp.text == "HELLO WORLD"
    assert hyp.scores["lm"] == pytest.approx(bytelog_to_ln(-12))
    assert hyp.scores["am"] == pytest.approx(bytelog_to_ln(-18))  # total - lm


def test_srilm_reads_gzip_and_strips_suffixes(tmp_path):
    with gzip.open(tmp_path / "spk1-utt7.nbest.gz", "wt", encoding="utf-8") as f:
        f.write("NBestList1.0\n(-10) A B\n(-12) A C\n")
    (nbest,) = read_nbest(tmp_path)
    assert nbest.utt_id == "spk1-utt7"
    assert [(h.rank, h.text) for h in nbest.hyps] == [(1, "A B"), (2, "A C")]
    assert nbest.hyps[1].scores["am"] == pytest.approx(-12 * 1024 / 10000.5)


@pytest.mark.parametrize(
    "content, lineno, fragment",
    [
        ("NBestList1.0\n(-100) a b\n(1.5) a\n", 3, "expected a bytelog score '(<integer>)'"),
        ("NBestList2.0\n(-3) a ( st: 0.0 et: 0.1 g: -1 a: -2\n", 2, "11 fields per word"),
        (
            "NBestList2.0\n(-3) a ( st: 0.0 et: 0.1 g: -1 x: -2 )\n",
            2,
            "expected 'w ( st: S et: E g: G a: A )'",
        ),
        ("-1.5 -2.5 2 a b\n-1.5 -2.5 two a b\n", 2, "expected a word count"),
        ("-1.5 -2.5 2 a b\nNBestList1.0\n", 2, "only allowed on line 1"),
    ],
)
def test_srilm_malformed(tmp_path, content, lineno, fragment):
    expect_broken_file(tmp_path / "u1", read_srilm_nbest, content, lineno, fragment)


def test_srilm_empty_directory(tmp_path):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    expect_error(lambda: read_srilm_nbest(empty_dir), empty_dir, None, "no SRILM n-best files")
