"""``rnnlm-fast rescore`` refuses what cannot give a meaningful result, in one line and exit 2,
before any model is loaded or any hypothesis scored: words mostly outside the model (a case
mismatch named), references of other utterances, a 1-best file given as n-best lists, a missing
references file, output paths that cannot be written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbest_cli_samples import make_lower_model, write_set

from rnnlm_fast import RNNLM
from rnnlm_fast.cli import main
from rnnlm_fast.nbest import write_text


@pytest.fixture(scope="module")
def lower_model(tmp_path_factory) -> Path:
    return make_lower_model(tmp_path_factory.mktemp("lower"))


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a model is loaded or a hypothesis scored."""
    def boom(*args, **kwargs):
        raise AssertionError("a model was loaded or used before the inputs were checked")

    monkeypatch.setattr(RNNLM, "load", boom)
    monkeypatch.setattr(RNNLM, "score", boom)


def run(model: Path, files: dict[str, Path], *extra: str) -> int:
    return main(["rescore", "--model", str(model), "--nbest", str(files["nbest"]),
                 "--refs", str(files["refs"]), "--lam", "0.5", "--threads", "1", "--quiet", *extra])


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnlm-fast: error: "), captured.err
    assert captured.out == ""
    return lines[0]


# --------------------------------------------------------------------------- item 1: OOV rate, case


def test_uppercase_lists_on_a_lowercase_model_fail_and_name_the_case(lower_model: Path, tmp_path: Path,
                                                                     monkeypatch, capsys):
    """A lowercase model on uppercase lists: every word is OOV. Once 'WER 16.76 -> 16.66' and exit 0."""
    files = write_set(tmp_path, "upper", upper=True)
    monkeypatch.setattr(RNNLM, "score", lambda *a, **k: pytest.fail("scored before the OOV check"))
    assert run(lower_model, files, "--report", str(tmp_path / "r.json")) == 2
    line = one_error_line(capsys)
    assert "100.0%" in line and "not in the model's vocabulary" in line
    assert "--case lower" in line and "max-oov-rate" in line
    assert not (tmp_path / "r.json").exists()
    monkeypatch.undo()
    assert run(lower_model, files, "--case", "lower") == 0
    assert "WER" in capsys.readouterr().out


def test_a_high_oov_rate_warns_and_the_threshold_is_a_flag(lower_model: Path, tmp_path: Path, capsys):
    files = write_set(tmp_path, "some_oov", unknown=1, utts=8)  # 24 of 104 words unknown
    report = tmp_path / "r.json"
    assert run(lower_model, files, "--report", str(report)) == 0
    err = capsys.readouterr().err
    assert err.startswith("rnnlm-fast: warning: ") and "not in the model's vocabulary" in err
    assert len(err.strip().splitlines()) == 1
    assert 0.2 < json.loads(report.read_text())["hypothesis_oov_rate"] < 0.3
    assert run(lower_model, files, "--max-oov-rate", "0.1") == 2
    assert "max_oov_rate 0.1" in one_error_line(capsys)
    clean = write_set(tmp_path, "clean")
    assert run(lower_model, clean) == 0
    assert capsys.readouterr().err == ""


def test_max_oov_rate_1_scores_anything(lower_model: Path, tmp_path: Path, capsys):
    files = write_set(tmp_path, "upper", upper=True)
    assert run(lower_model, files, "--max-oov-rate", "1") == 0
    assert "warning" in capsys.readouterr().err


def test_tuning_lists_are_checked_too(lower_model: Path, tmp_path: Path, monkeypatch, capsys):
    test, dev = write_set(tmp_path, "test"), write_set(tmp_path, "dev", upper=True)
    monkeypatch.setattr(RNNLM, "score", lambda *a, **k: pytest.fail("scored before the OOV check"))
    assert main(["rescore", "--model", str(lower_model), "--nbest", str(test["nbest"]),
                 "--refs", str(test["refs"]), "--tune-nbest", str(dev["nbest"]),
                 "--tune-refs", str(dev["refs"]), "--quiet"]) == 2
    line = one_error_line(capsys)
    assert str(dev["nbest"]) in line and "--case lower" in line


# --------------------------------------------------------------------------- item 3: one-line errors first


def test_references_of_other_utterances_are_named_before_any_work(lower_model: Path, tmp_path: Path, no_work,
                                                                  capsys):
    files = write_set(tmp_path, "set", utts=8)
    refs = dict(line.split(" ", 1) for line in files["refs"].read_text().splitlines())
    del refs["utt6"], refs["utt7"]
    refs["other1"] = "the cat"
    write_text(files["refs"], refs)
    assert run(lower_model, files) == 2
    line = one_error_line(capsys)
    assert str(files["refs"]) in line and str(files["nbest"]) in line
    assert "2 utterance(s)" in line and "utt6, utt7" in line
    assert "1 reference(s)" in line and "other1" in line


def test_a_1best_text_file_as_nbest_is_called_one(lower_model: Path, tmp_path: Path, no_work, capsys):
    files = write_set(tmp_path, "set")
    assert run(lower_model, {"nbest": files["refs"], "refs": files["refs"]}) == 2
    line = one_error_line(capsys)
    assert "this looks like a 1-best text file (one hypothesis per utterance, no scores)" in line
    assert str(files["refs"]) in line


def test_rnnlm_text_lists_lack_the_first_pass_score(lower_model: Path, tmp_path: Path, no_work, capsys):
    (tmp_path / "lists.txt").write_text("u1 the cat\nu1 the mat\nu2 a dog\nu2 a dog ran\n")
    (tmp_path / "refs.txt").write_text("u1 the cat\nu2 a dog\n")
    assert run(lower_model, {"nbest": tmp_path / "lists.txt", "refs": tmp_path / "refs.txt"}) == 2
    assert "no first-pass (acoustic) scores" in one_error_line(capsys)


def test_a_missing_old_lm_score_is_named(lower_model: Path, tmp_path: Path, no_work, capsys):
    files = write_set(tmp_path, "set")
    assert run(lower_model, files, "--old-lm-key", "lm") == 2
    assert "no 'lm' score (--old-lm-key lm); its scores: am" in one_error_line(capsys)


@pytest.mark.parametrize("flag", ["--refs", "--tune-refs"])
def test_a_missing_references_file_is_called_that(lower_model: Path, tmp_path: Path, no_work, capsys, flag):
    files = write_set(tmp_path, "set")
    missing = str(tmp_path / "nofile")
    argv = ["rescore", "--model", str(lower_model), "--nbest", str(files["nbest"]), "--quiet"]
    if flag == "--refs":
        argv += ["--refs", missing, "--lam", "0.5"]
    else:
        argv += ["--tune-nbest", str(files["nbest"]), "--tune-refs", missing]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert f"references file ({flag}) '{missing}' does not exist" in line
    assert "n-best" not in line


@pytest.mark.parametrize("flag, extra", [
    ("--report", []),
    ("--output-1best", []),
    ("--output-nbest", []),
    ("--output-nbest", ["--output-format", "kaldi"]),
])
def test_unwritable_outputs_fail_before_any_work(lower_model: Path, tmp_path: Path, no_work, capsys, flag,
                                                 extra):
    files = write_set(tmp_path, "set")
    target = str(tmp_path / "nodir" / "out")
    assert run(lower_model, files, flag, target, *extra) == 2
    line = one_error_line(capsys)
    assert flag in line and "nodir" in line and "does not exist" in line


def test_an_output_file_that_is_a_directory_is_refused(lower_model: Path, tmp_path: Path, no_work, capsys):
    files = write_set(tmp_path, "set")
    assert run(lower_model, files, "--output-1best", str(tmp_path)) == 2
    assert "is a directory" in one_error_line(capsys)


@pytest.mark.parametrize("flag", ["--mix-model", "--second-model", "--vocab"])
def test_a_missing_model_file_fails_before_any_model_is_loaded(lower_model: Path, tmp_path: Path, no_work,
                                                               capsys, flag):
    files = write_set(tmp_path, "set")
    assert run(lower_model, files, flag, str(tmp_path / "nope")) == 2
    assert f"{flag} file '{tmp_path / 'nope'}' does not exist" in one_error_line(capsys)
