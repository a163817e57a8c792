"""What ``rnnlm-fast rescore`` writes and prints: the rescored lists in every format (the TSV with
every feature of the total), help with examples, and a report in percent with Kaldi's error
counts, provenance, ``mu`` only where it weighs something, and the positions the progress bar
counts."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from nbest_cli_samples import make_lower_model, write_set

import rnnlm_fast.model_scoring
from rnnlm_fast import __version__
from rnnlm_fast.cli import build_parser, main
from rnnlm_fast.nbest import read_nbest, read_text

WEIGHTS = ["--lam", "0.7", "--word-bonus", "0.3", "--oov-weight", "-2"]


@pytest.fixture(scope="module")
def lower_model(tmp_path_factory) -> Path:
    return make_lower_model(tmp_path_factory.mktemp("lower"))


def rescore(model: Path, files: dict[str, Path], *extra: str) -> int:
    return main(["rescore", "--model", str(model), "--nbest", str(files["nbest"]), "--threads", "1",
                 "--quiet", *extra])


# --------------------------------------------------------------------------- item 5: outputs


def test_tsv_has_every_feature_of_the_total(lower_model: Path, tmp_path: Path):
    files = write_set(tmp_path, "set", unknown=1)
    out, report = tmp_path / "out.tsv", tmp_path / "r.json"
    assert rescore(lower_model, files, *WEIGHTS, "--output-nbest", str(out), "--report", str(report),
                   "--max-oov-rate", "1") == 0
    assert out.read_text().splitlines()[0] == "utt_id\trank\tam\trnnlm_ln\tn_words\tn_oov\ttotal\ttext"
    w = json.loads(report.read_text())["weights"]
    hyps = [h for nb in read_nbest(out) for h in nb.hyps]
    for h in hyps:
        s = h.scores
        assert s["n_words"] == len(h.text.split()) and s["n_oov"] == sum(w.startswith("zz") for w in h.words)
        recomputed = (s["am"] + w["lam"] * s["rnnlm_ln"] + w["word_bonus"] * s["n_words"]
                      + w["gamma"] * s["n_oov"])
        assert s["total"] == pytest.approx(recomputed, abs=1e-9)
    assert sum(h.scores["n_oov"] for h in hyps) > 0


@pytest.mark.parametrize("fmt", ["kaldi", "espnet", "srilm", "rnnlm"])
def test_every_format_holds_the_rescored_decision(lower_model: Path, tmp_path: Path, fmt: str):
    """Each format's rank 1 is the rescored 1-best; its scores add up to the rescored total."""
    files = write_set(tmp_path, "set", old_lm=True)
    tsv, best, out = tmp_path / "all.tsv", tmp_path / "1best", tmp_path / f"out_{fmt}"
    args = [*WEIGHTS, "--mu", "0.5", "--old-lm-key", "lm", "--output-1best", str(best)]
    assert rescore(lower_model, files, *args, "--output-nbest", str(tsv)) == 0
    assert rescore(lower_model, files, *args, "--output-nbest", str(out), "--output-format", fmt) == 0
    totals = {(nb.utt_id, h.text): h.scores["total"] for nb in read_nbest(tsv) for h in nb.hyps}
    one_best = read_text(best)
    got = read_nbest(out, fmt)
    assert [nb.utt_id for nb in got] == list(one_best)
    for nb in got:
        ranked = nb.ranked()
        assert ranked[0].text == one_best[nb.utt_id]
        want = sorted((totals[nb.utt_id, h.text] for h in ranked), reverse=True)
        if fmt == "rnnlm":
            assert [totals[nb.utt_id, h.text] for h in ranked] == want
            continue
        combined = [h.scores["am"] + h.scores.get("lm", 0.0) for h in ranked]
        np.testing.assert_allclose(combined, want, rtol=1e-12, atol=1e-9)


def test_output_format_without_output_nbest_is_harmless_and_unknown_formats_refused(lower_model: Path,
                                                                                    tmp_path: Path, capsys):
    files = write_set(tmp_path, "set")
    assert rescore(lower_model, files, "--lam", "0.5", "--output-format", "kaldi") == 0
    with pytest.raises(SystemExit):
        rescore(lower_model, files, "--lam", "0.5", "--output-format", "json")
    assert "invalid choice" in capsys.readouterr().err


# --------------------------------------------------------------------------- item 6: help and report


def test_every_rescore_option_has_help_and_the_help_has_examples():
    parser = build_parser().commands["rescore"]
    assert parser.formatter_class is argparse.RawDescriptionHelpFormatter
    undocumented = [a.option_strings for a in parser._actions
                    if a.option_strings and a.help != argparse.SUPPRESS and not a.help]
    assert undocumented == []
    text = parser.format_help()
    assert "examples:" in text and "rnnlm-fast rescore --model" in text and "--output-format kaldi" in text


def test_report_is_in_percent_with_kaldi_counts_and_provenance(lower_model: Path, tmp_path: Path, capsys):
    files = write_set(tmp_path, "set")
    report_path = tmp_path / "r.json"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert rescore(lower_model, files, "--refs", str(files["refs"]), "--tune-nbest", str(files["nbest"]),
                   "--tune-refs", str(files["refs"]), "--report", str(report_path)) == 0
    out = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert not any(k in report for k in ("wer_before", "wer_after", "oracle_wer", "ser_before"))
    summary = re.search(r"WER ([0-9.]+) -> ([0-9.]+)  SER ([0-9.]+) -> ([0-9.]+)  oracle WER ([0-9.]+)", out)
    printed = [float(x) for x in summary.groups()]
    in_report = [report["before"]["wer_percent"], report["after"]["wer_percent"],
                 report["before"]["ser_percent"], report["after"]["ser_percent"],
                 report["oracle"]["wer_percent"]]
    assert printed == [round(x, 2) for x in in_report]
    assert 0 <= report["tuning"]["wer_percent"] <= report["before"]["wer_percent"]
    for key, label in (("before", "first-pass 1-best"), ("after", "rescored"), ("oracle", "oracle")):
        s = report[key]
        assert s["errors"] == s["substitutions"] + s["deletions"] + s["insertions"]
        assert s["wer_percent"] == pytest.approx(100 * s["errors"] / s["ref_words"])
        line = (f"%WER {s['wer_percent']:.2f} [ {s['errors']} / {s['ref_words']}, {s['insertions']} ins, "
                f"{s['deletions']} del, {s['substitutions']} sub ]")
        assert any(x.startswith(line) and x.endswith(label) for x in out.splitlines()), (line, out)
    assert report["before"]["deletions"] > 0  # rank 1 drops the last reference word
    assert report["rnnlm_fast_version"] == __version__
    assert report["command"].startswith("rnnlm-fast rescore --model ")
    assert f"--tune-nbest {files['nbest']}" in report["command"] and "--quiet" in report["command"]
    started = datetime.fromisoformat(report["started"])
    assert started.tzinfo is not None and before <= started <= datetime.now(timezone.utc)
    assert report["elapsed_seconds"] >= report["scoring_seconds"] > 0


def test_mu_only_where_it_weighs_something(lower_model: Path, tmp_path: Path, capsys):
    plain, with_lm = write_set(tmp_path, "plain"), write_set(tmp_path, "with_lm", old_lm=True)
    report = tmp_path / "r.json"
    assert rescore(lower_model, plain, "--lam", "0.5", "--report", str(report)) == 0
    assert "mu" not in capsys.readouterr().out.splitlines()[0]
    assert "mu" not in json.loads(report.read_text())["weights"]
    assert rescore(lower_model, with_lm, "--lam", "0.5", "--mu", "0.25", "--old-lm-key", "lm",
                   "--report", str(report)) == 0
    assert "mu 0.250" in capsys.readouterr().out.splitlines()[0]
    assert json.loads(report.read_text())["weights"]["mu"] == 0.25


def test_report_counts_what_the_progress_bar_counts(lower_model: Path, tmp_path: Path, monkeypatch, capsys):
    files = write_set(tmp_path, "set")
    totals = []
    real = rnnlm_fast.model_scoring.make_bar
    monkeypatch.setattr(rnnlm_fast.model_scoring, "make_bar",
                        lambda enabled, total, *a, **k: totals.append(total) or real(False, total, *a, **k))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    report = tmp_path / "r.json"
    assert main(["rescore", "--model", str(lower_model), "--nbest", str(files["nbest"]), "--threads", "1",
                 "--lam", "0.5", "--report", str(report)]) == 0
    rep = json.loads(report.read_text())
    assert totals == [rep["hypothesis_positions"]]
    assert rep["hypothesis_positions"] == rep["hypothesis_words"] + rep["hypotheses"]
    words = sum(len(h.text.split()) for nb in read_nbest(files["nbest"]) for h in nb.hyps)
    assert rep["hypothesis_words"] == words
    assert (f"({rep['hypothesis_positions']} positions: {words} words and {rep['hypotheses']} </s>)"
            in capsys.readouterr().out)
