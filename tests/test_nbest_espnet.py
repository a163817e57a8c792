"""ESPnet2 ``Nbest_recog`` directories: round trip, several jobs, broken files, the real data."""

from __future__ import annotations

import pytest
from nbest_samples import ESPNET_10BEST, assert_same, expect_error, needs_espnet_data, sample_lists

from rnnlm_fast.errors import MissingFileError
from rnnlm_fast.nbest import read_espnet_nbest, read_nbest, write_espnet_nbest


def test_espnet_round_trip(tmp_path):
    lists = sample_lists(keys=("am",))
    write_espnet_nbest(tmp_path / "dev", lists)
    score = (tmp_path / "dev/logdir/output.1/2best_recog/score").read_text().splitlines()[0]
    assert score.startswith("1272-128104-0000 tensor(")
    assert_same(read_espnet_nbest(tmp_path / "dev"), lists, keys=("am",), tol=0)
    assert_same(read_nbest(tmp_path / "dev"), lists, keys=("am",), tol=0)


def test_espnet_several_jobs_and_bare_float_scores(tmp_path):
    lists = sample_lists(keys=("am",))
    write_espnet_nbest(tmp_path / "a", lists[:1])
    write_espnet_nbest(tmp_path / "b", lists[1:])
    logdir = tmp_path / "dev" / "logdir"
    logdir.mkdir(parents=True)
    (tmp_path / "a/logdir/output.1").rename(logdir / "output.1")
    (tmp_path / "b/logdir/output.1").rename(logdir / "output.2")
    score = logdir / "output.2/1best_recog/score"
    score.write_text(score.read_text().replace("tensor(", "").replace(")", ""))
    assert_same(read_espnet_nbest(tmp_path / "dev"), lists, keys=("am",), tol=0)


def test_espnet_malformed(tmp_path):
    d = tmp_path / "dev"
    write_espnet_nbest(d, sample_lists(keys=("am",)))
    score = d / "logdir/output.1/2best_recog/score"
    lines = score.read_text().splitlines()
    score.write_text("\n".join([lines[0], lines[1].split()[0] + " tensor(abc)"]) + "\n")
    expect_error(lambda: read_espnet_nbest(d), score, 2, "expected a score 'tensor(X)' or X")

    score.write_text(lines[0] + "\n")  # text has an utterance the scores lack
    expect_error(lambda: read_espnet_nbest(d), score, None, "missing")

    with pytest.raises(MissingFileError):
        read_espnet_nbest(tmp_path / "no_such_set")
    (d / "logdir/output.1/2best_recog/text").unlink()
    with pytest.raises(MissingFileError, match="2best_recog"):
        read_espnet_nbest(d)


@needs_espnet_data
def test_real_espnet_dev_clean():
    lists = read_nbest(ESPNET_10BEST / "inference" / "dev_clean")
    assert len(lists) == 2703
    assert all(len(n.hyps) == 10 for n in lists)
    assert all([h.rank for h in n.hyps] == list(range(1, 11)) for n in lists)
    first = {n.utt_id: n for n in lists}["1272-128104-0000"].hyps[0]
    assert first.scores == {"am": -4.0636}
    assert first.text.startswith("MISTER QUIILTER IS THE APOSTLE")
    # The README: ranks are sorted by the ESPnet score, best first.
    assert all(all(a.scores["am"] >= b.scores["am"] for a, b in zip(n.hyps, n.hyps[1:])) for n in lists)
    # The flattened copy holds the same lists.
    flat = {n.utt_id: n for n in read_nbest(ESPNET_10BEST / "derived" / "dev_clean.nbest.tsv")}
    assert set(flat) == {n.utt_id for n in lists}
    for n in lists[::97]:
        assert [(h.text, h.scores) for h in flat[n.utt_id].hyps] == [(h.text, h.scores) for h in n.hyps]
