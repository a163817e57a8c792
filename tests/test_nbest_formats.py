"""Readers and writers of n-best formats: round trips, broken files, the real ESPnet data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from corpora import DATA as SHARED_DATA

from rnnlm_fast import errors
from rnnlm_fast import nbest_formats as nf

NbestFormatError = errors.NbestFormatError
MissingFileError = errors.MissingFileError
Hypothesis, NbestList = nf.Hypothesis, nf.NbestList

DATA = SHARED_DATA / "nbest" / "librispeech_espnet_10best"


# --------------------------------------------------------------------------- fixtures


def _sample_lists(keys=("am", "lm"), grid: bool = False, seed: int = 0) -> list:
    """Three utterances of 3, 1 and 2 hypotheses, with an empty and a non-ASCII one."""
    rng = np.random.default_rng(seed)
    texts = {
        "1272-128104-0000": ["MISTER QUILTER IS THE APOSTLE", "MISTER QUIILTER IS THE APOSTLE", ""],
        "utt_b": [
            "café naïve",
        ],
        "spk2-utt3": ["HE TELLS US", "HE TELL US THAT"],
    }

    def score() -> float:
        if grid:  # exactly representable in SRILM bytelogs
            return nf.bytelog_to_ln(int(rng.integers(-2000, 0)))
        return float(rng.normal(-20.0, 8.0))

    lists = []
    for utt, hyps in texts.items():
        lists.append(
            NbestList(
                utt,
                [
                    Hypothesis(t, {k: (0.0 if (k == "lm" and not t) else score()) for k in keys}, r)
                    for r, t in enumerate(hyps, start=1)
                ],
            )
        )
    return lists


def _assert_same(got: list, want: list, keys=(), tol: float = 1e-6) -> None:
    assert [n.utt_id for n in got] == [n.utt_id for n in want]
    for g, w in zip(got, want):
        assert [h.text for h in g.hyps] == [h.text for h in w.hyps]
        assert [h.rank for h in g.hyps] == [h.rank for h in w.hyps]
        for gh, wh in zip(g.hyps, w.hyps):
            assert set(gh.scores) == set(keys)
            for k in keys:
                assert gh.scores[k] == pytest.approx(wh.scores[k], abs=tol), (g.utt_id, k)


def _message(excinfo) -> str:
    return str(excinfo.value)


# --------------------------------------------------------------------------- round trips


def test_rnnlm_round_trip(tmp_path):
    lists = _sample_lists()
    path = tmp_path / "nbest.txt"
    nf.write_rnnlm_nbest(path, lists)
    assert path.read_text(encoding="utf-8").splitlines()[0] == (
        "1272-128104-0000 MISTER QUILTER IS THE APOSTLE"
    )
    _assert_same(nf.read_rnnlm_nbest(path), lists, keys=())
    _assert_same(nf.read_nbest(path), lists, keys=())


def test_kaldi_round_trip_negates_costs(tmp_path):
    lists = _sample_lists()
    nf.write_kaldi_nbest(tmp_path / "nb", lists)
    first_cost = (tmp_path / "nb" / "acwt").read_text().splitlines()[0].split()
    assert first_cost[0] == "1272-128104-0000-1"
    assert float(first_cost[1]) == -lists[0].hyps[0].scores["am"]  # cost = -ln p
    _assert_same(nf.read_kaldi_nbest(tmp_path / "nb"), lists, keys=("am", "lm"), tol=0)
    _assert_same(nf.read_nbest(tmp_path / "nb"), lists, keys=("am", "lm"), tol=0)
    _assert_same(nf.read_nbest(tmp_path / "nb" / "text"), lists, keys=("am", "lm"), tol=0)


def test_kaldi_explicit_paths(tmp_path):
    lists = _sample_lists()
    nf.write_kaldi_nbest(tmp_path, lists)
    (tmp_path / "acwt").rename(tmp_path / "ac_cost")
    got = nf.read_kaldi_nbest(tmp_path, acwt=tmp_path / "ac_cost")
    _assert_same(got, lists, keys=("am", "lm"), tol=0)


def test_espnet_round_trip(tmp_path):
    lists = _sample_lists(keys=("am",))
    nf.write_espnet_nbest(tmp_path / "dev", lists)
    score = (tmp_path / "dev/logdir/output.1/2best_recog/score").read_text().splitlines()[0]
    assert score.startswith("1272-128104-0000 tensor(")
    _assert_same(nf.read_espnet_nbest(tmp_path / "dev"), lists, keys=("am",), tol=0)
    _assert_same(nf.read_nbest(tmp_path / "dev"), lists, keys=("am",), tol=0)


def test_espnet_several_jobs_and_bare_float_scores(tmp_path):
    lists = _sample_lists(keys=("am",))
    nf.write_espnet_nbest(tmp_path / "a", lists[:1])
    nf.write_espnet_nbest(tmp_path / "b", lists[1:])
    logdir = tmp_path / "dev" / "logdir"
    logdir.mkdir(parents=True)
    (tmp_path / "a/logdir/output.1").rename(logdir / "output.1")
    (tmp_path / "b/logdir/output.1").rename(logdir / "output.2")
    score = logdir / "output.2/1best_recog/score"
    score.write_text(score.read_text().replace("tensor(", "").replace(")", ""))
    _assert_same(nf.read_espnet_nbest(tmp_path / "dev"), lists, keys=("am",), tol=0)


@pytest.mark.parametrize("style", ["plain", "NBestList1.0", "NBestList2.0"])
def test_srilm_round_trip(tmp_path, style):
    # NBestList1.0 has one composite score, read back as "am".
    keys = ("am",) if style == "NBestList1.0" else ("am", "lm")
    lists = _sample_lists(keys=keys, grid=style != "plain")
    files = nf.write_srilm_nbest(tmp_path / "srilm", lists, style=style)
    assert files[0].name == "1272-128104-0000.nbest"
    first = files[0].read_text(encoding="utf-8").splitlines()[0]
    assert first == style if style != "plain" else first.endswith("5 MISTER QUILTER IS THE APOSTLE")
    tol = 1e-9
    for reader in (nf.read_srilm_nbest, nf.read_nbest):
        got = reader(tmp_path / "srilm")
        got_by_utt = {n.utt_id: n for n in got}  # a directory is read in file-name order
        _assert_same([got_by_utt[n.utt_id] for n in lists], lists, keys=keys, tol=tol)
    single = nf.read_nbest(files[2])
    _assert_same(single, lists[2:], keys=keys, tol=tol)


def test_srilm_plain_is_log10(tmp_path):
    lists = [NbestList("u", [Hypothesis("a b", {"am": -math.log(10) * 2.5, "lm": -math.log(10)}, 1)])]
    (f,) = nf.write_srilm_nbest(tmp_path, lists)
    ascore, lscore, nwords, *_ = f.read_text().split()
    assert float(ascore) == pytest.approx(-2.5) and float(lscore) == pytest.approx(-1.0)
    assert nwords == "2"


def test_bytelog_conversion_matches_definition():
    # A bytelog is log base 1.0001 divided by 1024 (SRILM nbest-format(5)).
    for b in (-1, -7, -1234):
        assert nf.bytelog_to_ln(b) == pytest.approx(b * 1024 * math.log(1.0001), rel=1e-5)
    assert nf.ln_to_bytelog(math.log(0.5)) == -7
    assert nf.ln_to_bytelog(nf.bytelog_to_ln(-1234)) == -1234


def test_srilm_decipher_rounds_off_grid_scores(tmp_path):
    lists = _sample_lists(keys=("am", "lm"), grid=False)
    nf.write_srilm_nbest(tmp_path, lists, style="NBestList2.0")
    got = {n.utt_id: n for n in nf.read_srilm_nbest(tmp_path)}
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
    (nbest,) = nf.read_srilm_nbest(path)
    assert nbest.utt_id == "u1.gz"
    (hyp,) = nbest.hyps
    assert hyp.text == "HELLO WORLD"
    assert hyp.scores["lm"] == pytest.approx(nf.bytelog_to_ln(-12))
    assert hyp.scores["am"] == pytest.approx(nf.bytelog_to_ln(-18))  # total - lm


def test_srilm_reads_gzip_and_strips_suffixes(tmp_path):
    import gzip

    with gzip.open(tmp_path / "spk1-utt7.nbest.gz", "wt", encoding="utf-8") as f:
        f.write("NBestList1.0\n(-10) A B\n(-12) A C\n")
    (nbest,) = nf.read_nbest(tmp_path)
    assert nbest.utt_id == "spk1-utt7"
    assert [(h.rank, h.text) for h in nbest.hyps] == [(1, "A B"), (2, "A C")]
    assert nbest.hyps[1].scores["am"] == pytest.approx(-12 * 1024 / 10000.5)


def test_tsv_round_trip(tmp_path):
    lists = _sample_lists(keys=("am", "lm", "rnnlm"))
    path = tmp_path / "nbest.tsv"
    nf.write_tsv_nbest(path, lists)
    assert path.read_text().splitlines()[0] == "utt_id\trank\tam\tlm\trnnlm\ttext"
    _assert_same(nf.read_tsv_nbest(path), lists, keys=("am", "lm", "rnnlm"), tol=0)
    _assert_same(nf.read_nbest(path), lists, keys=("am", "lm", "rnnlm"), tol=0)


def test_tsv_reads_espnet_score_as_am(tmp_path):
    path = tmp_path / "dev.nbest.tsv"
    path.write_text("utt_id\trank\tespnet_score\ttext\nu\t2\t-5.5\tB\nu\t1\t-4.0\tA\n")
    (nbest,) = nf.read_tsv_nbest(path)
    assert [(h.rank, h.text, h.scores) for h in nbest.hyps] == [
        (1, "A", {"am": -4.0}),
        (2, "B", {"am": -5.5}),
    ]


def test_text_round_trip(tmp_path):
    texts = {"u1": "A B", "u2": "", "u3": "ÉTÉ"}
    nf.write_text(tmp_path / "text", texts)
    assert nf.read_text(tmp_path / "text") == texts


def test_writers_reject_newlines_in_text(tmp_path):
    bad = [NbestList("u", [Hypothesis("a\nb", {"am": 0.0}, 1)])]
    with pytest.raises(ValueError, match="newline"):
        nf.write_tsv_nbest(tmp_path / "x.tsv", bad)
    with pytest.raises(ValueError, match="newline"):
        nf.write_rnnlm_nbest(tmp_path / "x.txt", bad)


# --------------------------------------------------------------------------- broken input


def _expect_error(call, path: Path, lineno: int | None, fragment: str) -> None:
    with pytest.raises(NbestFormatError) as excinfo:
        call()
    msg = _message(excinfo)
    where = f"{path}:{lineno}:" if lineno is not None else f"{path}:"
    assert where in msg, msg
    assert fragment in msg, msg


def test_rnnlm_malformed(tmp_path):
    p = tmp_path / "nbest.txt"
    p.write_text("u1 a b\nu1 a\n\nu2 c\n")
    _expect_error(lambda: nf.read_rnnlm_nbest(p), p, 3, "expected '<id> <words>'")
    p.write_text("u1 a b\nu2 a\nu2 c\nu1 d\n")
    _expect_error(lambda: nf.read_rnnlm_nbest(p), p, 4, "ended at line 1")


def test_kaldi_malformed(tmp_path):
    lists = _sample_lists()
    d = tmp_path / "nb"
    nf.write_kaldi_nbest(d, lists)
    text = (d / "text").read_text().splitlines()
    acwt = (d / "acwt").read_text().splitlines()

    (d / "text").write_text("\n".join([text[0], "no_rank_here a b", *text[2:]]) + "\n")
    _expect_error(lambda: nf.read_kaldi_nbest(d), d / "text", 2, "expected a key '<utt-id>-<N>'")
    (d / "text").write_text("\n".join(text) + "\n")

    (d / "acwt").write_text("\n".join([*acwt[:2], acwt[2].split()[0] + " abc", *acwt[3:]]) + "\n")
    _expect_error(lambda: nf.read_kaldi_nbest(d), d / "acwt", 3, "expected a cost (a number)")

    (d / "acwt").write_text("\n".join([*acwt[:2], "1272-128104-0000-9 1.0", *acwt[2:]]) + "\n")
    _expect_error(lambda: nf.read_kaldi_nbest(d), d / "acwt", 3, "is not in")

    (d / "acwt").write_text("\n".join(acwt[1:]) + "\n")
    _expect_error(lambda: nf.read_kaldi_nbest(d), d / "acwt", None, "'1272-128104-0000-1'")

    (d / "acwt").unlink()
    with pytest.raises(MissingFileError, match="acwt"):
        nf.read_kaldi_nbest(d)


def test_espnet_malformed(tmp_path):
    d = tmp_path / "dev"
    nf.write_espnet_nbest(d, _sample_lists(keys=("am",)))
    score = d / "logdir/output.1/2best_recog/score"
    lines = score.read_text().splitlines()
    score.write_text("\n".join([lines[0], lines[1].split()[0] + " tensor(abc)"]) + "\n")
    _expect_error(lambda: nf.read_espnet_nbest(d), score, 2, "expected a score 'tensor(X)' or X")

    score.write_text(lines[0] + "\n")  # text has an utterance the scores lack
    _expect_error(lambda: nf.read_espnet_nbest(d), score, None, "missing")

    with pytest.raises(MissingFileError):
        nf.read_espnet_nbest(tmp_path / "no_such_set")
    (d / "logdir/output.1/2best_recog/text").unlink()
    with pytest.raises(MissingFileError, match="2best_recog"):
        nf.read_espnet_nbest(d)


def test_srilm_malformed(tmp_path):
    p = tmp_path / "u1"
    p.write_text("NBestList1.0\n(-100) a b\n(1.5) a\n")
    _expect_error(lambda: nf.read_srilm_nbest(p), p, 3, "expected a bytelog score '(<integer>)'")
    p.write_text("NBestList2.0\n(-3) a ( st: 0.0 et: 0.1 g: -1 a: -2\n")
    _expect_error(lambda: nf.read_srilm_nbest(p), p, 2, "11 fields per word")
    p.write_text("NBestList2.0\n(-3) a ( st: 0.0 et: 0.1 g: -1 x: -2 )\n")
    _expect_error(lambda: nf.read_srilm_nbest(p), p, 2, "expected 'w ( st: S et: E g: G a: A )'")
    p.write_text("-1.5 -2.5 2 a b\n-1.5 -2.5 two a b\n")
    _expect_error(lambda: nf.read_srilm_nbest(p), p, 2, "expected a word count")
    p.write_text("-1.5 -2.5 2 a b\nNBestList1.0\n")
    _expect_error(lambda: nf.read_srilm_nbest(p), p, 2, "only allowed on line 1")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    _expect_error(lambda: nf.read_srilm_nbest(empty_dir), empty_dir, None, "no SRILM n-best files")


def test_tsv_malformed(tmp_path):
    p = tmp_path / "n.tsv"
    p.write_text("utt\trank\tam\ttext\n")
    _expect_error(lambda: nf.read_tsv_nbest(p), p, 1, "expected a header")
    p.write_text("utt_id\trank\tam\ttext\nu\t1\t-1.0\ta\nu\t2\t-2.0\n")
    _expect_error(lambda: nf.read_tsv_nbest(p), p, 3, "expected 4 tab-separated fields but found 3")
    p.write_text("utt_id\trank\tam\ttext\nu\t0\t-1.0\ta\n")
    _expect_error(lambda: nf.read_tsv_nbest(p), p, 2, "expected a rank")
    p.write_text("utt_id\trank\tam\ttext\nu\t1\t-1.0\ta\nu\t2\tnan\tb\n")
    _expect_error(lambda: nf.read_tsv_nbest(p), p, 3, "found NaN")
    p.write_text("utt_id\trank\tam\ttext\nu\t1\t-1.0\ta\nu\t1\t-2.0\tb\n")
    _expect_error(lambda: nf.read_tsv_nbest(p), p, 3, "first at line 2")


def test_text_malformed(tmp_path):
    p = tmp_path / "text"
    p.write_text("u1 a\nu2 b\nu1 c\n")
    _expect_error(lambda: nf.read_text(p), p, 3, "repeated (first at line 1)")


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
    _expect_error(lambda: nf.read_nbest(p, format=reader), p, 2, "invalid UTF-8")


def test_missing_file(tmp_path):
    for call in (
        lambda: nf.read_nbest(tmp_path / "absent"),
        lambda: nf.read_rnnlm_nbest(tmp_path / "absent"),
        lambda: nf.read_tsv_nbest(tmp_path / "absent"),
        lambda: nf.read_srilm_nbest(tmp_path / "absent"),
        lambda: nf.read_text(tmp_path / "absent"),
    ):
        with pytest.raises(MissingFileError, match="absent"):
            call()


def test_unknown_format(tmp_path):
    p = tmp_path / "x"
    p.write_text("u a\n")
    with pytest.raises(ValueError, match="unknown n-best format"):
        nf.read_nbest(p, format="htk")


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not DATA.is_dir(), reason=f"real n-best data not present at {DATA}")
def test_real_espnet_dev_clean():
    lists = nf.read_nbest(DATA / "inference" / "dev_clean")
    assert len(lists) == 2703
    assert all(len(n.hyps) == 10 for n in lists)
    assert all([h.rank for h in n.hyps] == list(range(1, 11)) for n in lists)
    first = {n.utt_id: n for n in lists}["1272-128104-0000"].hyps[0]
    assert first.scores == {"am": -4.0636}
    assert first.text.startswith("MISTER QUIILTER IS THE APOSTLE")
    # The README: ranks are sorted by the ESPnet score, best first.
    assert all(all(a.scores["am"] >= b.scores["am"] for a, b in zip(n.hyps, n.hyps[1:])) for n in lists)
    # The flattened copy holds the same lists.
    flat = {n.utt_id: n for n in nf.read_nbest(DATA / "derived" / "dev_clean.nbest.tsv")}
    assert set(flat) == {n.utt_id for n in lists}
    for n in lists[::97]:
        assert [(h.text, h.scores) for h in flat[n.utt_id].hyps] == [(h.text, h.scores) for h in n.hyps]
