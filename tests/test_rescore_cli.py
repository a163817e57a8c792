"""``rnnlm-fast rescore`` end to end: a tiny model trained here, real ESPnet dev_clean lists.

The lists are a few dozen utterances of ``librispeech_espnet_10best`` (skipped when the
shared data directory is absent), tuned on one slice and applied to another.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from corpora import data_path, levenshtein

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.cli import build_parser, main
from rnnlm_fast.nbest import (
    Hypothesis,
    NbestList,
    oov_counts,
    read_nbest,
    read_text,
    score_lists,
    tune_weights,
    write_espnet_nbest,
    write_text,
    write_tsv_nbest,
)

N_TUNE, N_TEST = 30, 30


def _wer(refs: dict[str, str], hyps: dict[str, str]) -> float:
    errors = sum(levenshtein(refs[u].split(), hyps[u].split()) for u in refs)
    return errors / sum(len(r.split()) for r in refs.values())


@pytest.fixture(scope="module")
def nbest_dir() -> Path:
    return data_path("nbest", "librispeech_espnet_10best")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """Hidden 16, two epochs on the shipped books (upper case, like the n-best lists)."""
    data = resources.files("rnnlm_fast") / "data"
    train, valid = str(data / "books.train.txt.gz"), str(data / "books.valid.txt.gz")
    vocab = Vocabulary.from_corpus(train, min_count=2, classes=40)
    model = RNNLM(vocab, hidden=16, seed=1)
    model.train(train, valid, max_epochs=2, threads=1, progress=False)
    path = tmp_path_factory.mktemp("model") / "tiny.rnnlm"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def slices(nbest_dir: Path, tmp_path_factory) -> dict:
    """The first N_TUNE + N_TEST utterances of dev_clean, written back as ESPnet directories."""
    lists = read_nbest(nbest_dir / "inference" / "dev_clean")
    refs = read_text(nbest_dir / "ground_truth" / "dev_clean" / "text")
    root = tmp_path_factory.mktemp("nbest")
    out = {}
    for name, part in (("tune", lists[:N_TUNE]), ("test", lists[N_TUNE : N_TUNE + N_TEST])):
        write_espnet_nbest(root / name, part)
        write_text(root / f"{name}.ref", {nb.utt_id: refs[nb.utt_id] for nb in part})
        out[name] = part
    out["root"] = root
    out["refs"] = refs
    return out


def test_rescore_cli_report_and_outputs(slices: dict, nbest_dir: Path, tiny_model: Path, tmp_path: Path):
    root = slices["root"]
    report_path, one_best_path = tmp_path / "report.json", tmp_path / "1best"
    rc = main(
        [
            "rescore", "--model", str(tiny_model), "--quiet", "--threads", "1",
            "--nbest", str(root / "test"), "--refs", str(root / "test.ref"),
            "--tune-nbest", str(root / "tune"), "--tune-refs", str(root / "tune.ref"),
            "--report", str(report_path), "--output-1best", str(one_best_path),
        ]
    )  # fmt: skip
    assert rc == 0
    report = json.loads(report_path.read_text())
    test = slices["test"]
    refs = {nb.utt_id: slices["refs"][nb.utt_id] for nb in test}
    assert report["utterances"] == N_TEST and report["hypotheses"] == 10 * N_TEST

    # WER before: the rank-1 hypotheses of the original files, scored independently.
    rank1 = {}
    for line in (nbest_dir / "derived" / "dev_clean.nbest.tsv").read_text().splitlines()[1:]:
        utt, rank, _, text = line.split("\t")
        if rank == "1" and utt in refs:
            rank1[utt] = text
    assert report["before"]["wer_percent"] == pytest.approx(100 * _wer(refs, rank1), abs=1e-10)

    # The 1-best file: one line per utterance, in list order, each one of its hypotheses.
    lines = one_best_path.read_text().splitlines()
    assert len(lines) == N_TEST
    chosen = dict(line.split(" ", 1) for line in lines)
    assert list(chosen) == [nb.utt_id for nb in test]
    for nb in test:
        assert chosen[nb.utt_id] in {h.text for h in nb.hyps}
    assert report["after"]["wer_percent"] == pytest.approx(100 * _wer(refs, chosen), abs=1e-10)
    assert report["oracle"]["wer_percent"] <= report["after"]["wer_percent"]
    assert report["oracle"]["wer_percent"] <= report["before"]["wer_percent"]

    # The tuned weights (where the tuner may search is tests/test_nbest_tune.py's business).
    w = report["weights"]
    assert set(w) == {"lam", "word_bonus", "gamma"}  # no first-pass LM, no second model: no mu
    assert all(np.isfinite(v) for v in w.values()) and w["lam"] >= 0.0
    assert report["tuning"]["wer_percent"] <= 100 * _wer(
        {nb.utt_id: slices["refs"][nb.utt_id] for nb in slices["tune"]},
        {nb.utt_id: nb.best().text for nb in slices["tune"]},
    )
    assert report["model"]["hidden"] == 16
    assert 0.0 < report["hypothesis_oov_rate"] < 1.0


def test_rescore_cli_fixed_weights(slices: dict, tiny_model: Path, tmp_path: Path):
    root = slices["root"]
    report_path = tmp_path / "report.json"
    args = ["rescore", "--model", str(tiny_model), "--quiet", "--nbest", str(root / "test"),
            "--refs", str(root / "test.ref"), "--report", str(report_path), "--threads", "1"]  # fmt: skip
    assert main([*args, "--lam", "0"]) == 0
    report = json.loads(report_path.read_text())
    assert report["changed"] == 0 and report["after"] == report["before"]
    assert main([*args, "--lam", "0.5", "--word-bonus", "1", "--oov-weight", "-4"]) == 0
    report = json.loads(report_path.read_text())
    assert report["weights"] == {"lam": 0.5, "word_bonus": 1.0, "gamma": -4.0}


@pytest.mark.parametrize("oov", ["unk", "penalty"])
def test_lm_scores_do_not_depend_on_threads(slices: dict, tiny_model: Path, oov: str):
    model = RNNLM.load(tiny_model)
    lists = slices["tune"] + slices["test"]
    one = score_lists(model, lists, oov=oov, threads=1)
    two = score_lists(model, lists, oov=oov, threads=2)
    assert one.shape == (sum(len(nb.hyps) for nb in lists),)
    assert np.all(np.isfinite(one))
    np.testing.assert_array_equal(one, two)


def test_oov_counts_match_the_vocabulary(slices: dict, tiny_model: Path):
    model = RNNLM.load(tiny_model)
    lists = slices["test"]
    got = oov_counts(model, lists)
    want = [sum(w not in model.vocab for w in h.text.split()) for nb in lists for h in nb.hyps]
    np.testing.assert_array_equal(got, want)
    assert got.sum() > 0


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_second_model_is_the_mu_feature(slices: dict, tiny_model: Path, tmp_path: Path, capsys, direction):
    """--second-model: an ensemble of two RNNLMs, the second one's score weighted by mu
    (a backward model is the usual partner)."""
    data = resources.files("rnnlm_fast") / "data"
    train = str(data / "books.train.txt.gz")
    vocab = Vocabulary.from_corpus(train, min_count=2, classes=40)
    other = RNNLM(vocab, hidden=8, seed=5, direction=direction)
    other.train(train, str(data / "books.valid.txt.gz"), max_epochs=1, threads=1, progress=False)
    other_path = tmp_path / "other.rnnlm"
    other.save(other_path)
    root = slices["root"]
    report = tmp_path / "r.json"
    out_nbest = tmp_path / "rescored.tsv"
    assert main(["rescore", "--model", str(tiny_model), "--second-model", str(other_path),
                 "--nbest", str(root / "test"), "--refs", str(root / "test.ref"),
                 "--tune-nbest", str(root / "tune"), "--tune-refs", str(root / "tune.ref"),
                 "--output-nbest", str(out_nbest), "--report", str(report), "--threads", "1", "--quiet"]) == 0
    rep = json.loads(report.read_text())
    assert "mu" in rep["weights"] and rep["weights"]["mu"] >= 0
    # The rescored lists carry the second model's score of each hypothesis.
    rescored = read_nbest(out_nbest)
    texts = [h.text for nb in rescored for h in nb.hyps]
    lm2 = [h.scores["lm2"] for nb in rescored for h in nb.hyps]
    expected = other.score(texts, oov="auto") * np.log(10)
    np.testing.assert_allclose(lm2, expected, rtol=1e-5, atol=1e-4)
    assert rep["second_model"]["direction"] == direction
    # --second-model-weight: one LM score, the log-linear mixture of the two; mu is not used
    first = RNNLM.load(tiny_model).score(texts, oov="auto") * np.log(10)
    assert main(["rescore", "--model", str(tiny_model), "--second-model", str(other_path),
                 "--second-model-weight", "0.25", "--nbest", str(root / "test"), "--lam", "0.5",
                 "--output-nbest", str(out_nbest), "--report", str(report), "--threads", "1", "--quiet"]) == 0
    mixed = read_nbest(out_nbest)
    np.testing.assert_allclose([h.scores["rnnlm_ln"] for nb in mixed for h in nb.hyps],
                               0.75 * first + 0.25 * expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose([h.scores["lm1"] for nb in mixed for h in nb.hyps], first,
                               rtol=1e-5, atol=1e-4)
    assert "mu" not in json.loads(report.read_text())["weights"]
    capsys.readouterr()
    for bad in (["--second-model-weight", "1.5"], ["--second-model-weight", "-0.1"]):
        assert main(["rescore", "--model", str(tiny_model), "--second-model", str(other_path), *bad,
                     "--nbest", str(root / "test"), "--lam", "0.5", "--quiet"]) == 2
        assert "--second-model-weight" in capsys.readouterr().err
    assert main(["rescore", "--model", str(tiny_model), "--second-model-weight", "0.5",
                 "--nbest", str(root / "test"), "--lam", "0.5", "--quiet"]) == 2
    assert "needs --second-model" in capsys.readouterr().err
    assert main(["rescore", "--model", str(tiny_model), "--second-model", str(other_path),
                 "--old-lm-key", "lm", "--nbest", str(root / "test"), "--lam", "0.5", "--quiet"]) == 2
    assert "--second-model" in capsys.readouterr().err


@pytest.fixture(scope="module")
def partner_models(tmp_path_factory) -> list[Path]:
    """Two small partners for the tiny model: a forward and a backward RNNLM, one epoch each."""
    data = resources.files("rnnlm_fast") / "data"
    train, valid = str(data / "books.train.txt.gz"), str(data / "books.valid.txt.gz")
    vocab = Vocabulary.from_corpus(train, min_count=2, classes=40)
    root = tmp_path_factory.mktemp("partners")
    paths = []
    for seed, direction in ((5, "forward"), (6, "backward")):
        model = RNNLM(vocab, hidden=8, seed=seed, direction=direction)
        model.train(train, valid, max_epochs=1, threads=1, progress=False)
        paths.append(root / f"{direction}.rnnlm")
        model.save(paths[-1])
    return paths


def test_mix_models_into_one_lm_score(slices: dict, tiny_model: Path, partner_models: list[Path],
                                      tmp_path: Path):
    """--mix-model (repeatable) with --mix-weights: the LM score is the weighted sum of every model's
    natural-log score, each of which is kept in the rescored lists as lm1, lm2, ..."""
    root = slices["root"]
    report, out_nbest = tmp_path / "r.json", tmp_path / "rescored.tsv"
    mix_args = [a for path in partner_models for a in ("--mix-model", str(path))]
    assert main(["rescore", "--model", str(tiny_model), *mix_args, "--mix-weights", "0.5,0.3,0.2",
                 "--nbest", str(root / "test"), "--lam", "0.5", "--output-nbest", str(out_nbest),
                 "--report", str(report), "--threads", "1", "--quiet"]) == 0
    rescored = read_nbest(out_nbest)
    texts = [h.text for nb in rescored for h in nb.hyps]
    singles = [RNNLM.load(p).score(texts, oov="auto") * np.log(10) for p in [tiny_model, *partner_models]]
    for i, expected in enumerate(singles, 1):
        np.testing.assert_allclose([h.scores[f"lm{i}"] for nb in rescored for h in nb.hyps], expected,
                                   rtol=1e-5, atol=1e-4)
    mixed = 0.5 * singles[0] + 0.3 * singles[1] + 0.2 * singles[2]
    np.testing.assert_allclose([h.scores["rnnlm_ln"] for nb in rescored for h in nb.hyps], mixed,
                               rtol=1e-5, atol=1e-4)
    rep = json.loads(report.read_text())
    assert [m["weight"] for m in rep["mixture"]] == [0.5, 0.3, 0.2]
    assert [m["direction"] for m in rep["mixture"]] == ["forward", "forward", "backward"]
    assert "mu" not in rep["weights"]
    # Without --mix-weights every model weighs the same; tuning works on the mixture too.
    assert main(["rescore", "--model", str(tiny_model), *mix_args, "--nbest", str(root / "test"),
                 "--refs", str(root / "test.ref"), "--tune-nbest", str(root / "tune"),
                 "--tune-refs", str(root / "tune.ref"), "--output-nbest", str(out_nbest),
                 "--report", str(report), "--threads", "1", "--quiet"]) == 0
    rescored = read_nbest(out_nbest)
    np.testing.assert_allclose([h.scores["rnnlm_ln"] for nb in rescored for h in nb.hyps], sum(singles) / 3,
                               rtol=1e-5, atol=1e-4)
    rep = json.loads(report.read_text())
    assert [m["weight"] for m in rep["mixture"]] == pytest.approx([1 / 3] * 3)
    tune_lists = slices["tune"]
    tune_texts = [h.text for nb in tune_lists for h in nb.hyps]
    tune_lm = sum(RNNLM.load(p).score(tune_texts, oov="auto") * np.log(10)
                  for p in [tiny_model, *partner_models]) / 3
    tune_refs = read_text(root / "tune.ref")
    want = tune_weights(tune_lists, tune_lm, tune_refs, n_oov=oov_counts(RNNLM.load(tiny_model), tune_lists))
    want_weights = {k: v for k, v in dataclasses.asdict(want.weights).items() if k not in ("mu", "ngram")}
    assert rep["weights"] == pytest.approx(want_weights, abs=1e-4)


@pytest.mark.parametrize("extra, message", [
    (["--mix-weights", "0.5,0.5"], "2 weights for 3 models"),
    (["--mix-weights", "0.5,0.6,-0.1"], "non-negative and sum to 1"),
    (["--mix-weights", "0.2,0.2,0.2"], "non-negative and sum to 1"),
    (["--mix-weights", "0.5,half,0"], "comma-separated numbers"),
    (["--mix-weights", "nan,0.5,0.5"], "non-negative and sum to 1"),
])
def test_bad_mix_weights_are_refused(slices: dict, tiny_model: Path, partner_models: list[Path], capsys,
                                     extra: list[str], message: str):
    mix_args = [a for path in partner_models for a in ("--mix-model", str(path))]
    assert main(["rescore", "--model", str(tiny_model), *mix_args, *extra,
                 "--nbest", str(slices["root"] / "test"), "--lam", "0.5", "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_mix_model_conflicts(slices: dict, tiny_model: Path, partner_models: list[Path], capsys):
    base = ["rescore", "--model", str(tiny_model), "--nbest", str(slices["root"] / "test"), "--lam", "0.5",
            "--quiet"]
    fwd, bwd = (str(p) for p in partner_models)
    cases = [
        (["--mix-weights", "1"], "--mix-weights needs --mix-model"),
        (["--second-model", fwd, "--second-model-weight", "0.5", "--mix-model", bwd],
         "--second-model-weight mixes two"),
        (["--second-model", fwd, "--mix-model", bwd], "cannot be combined"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err


# --- --beta, the old name of --word-bonus ----------------------------------------------------


@pytest.fixture
def small_nbest(tmp_path: Path) -> dict[str, Path]:
    """Two utterances of two hypotheses each (a TSV) with references: no shared data needed."""
    lists = [
        NbestList("u1", [Hypothesis("THE MAN SAID", {"am": -5.0}, 1),
                         Hypothesis("THE MAN SAID IT", {"am": -5.5}, 2)]),
        NbestList("u2", [Hypothesis("HE WENT HOME", {"am": -4.0}, 1),
                         Hypothesis("HE WENT", {"am": -3.5}, 2)]),
    ]
    write_tsv_nbest(tmp_path / "small.tsv", lists)
    write_text(tmp_path / "small.ref", {"u1": "THE MAN SAID IT", "u2": "HE WENT HOME"})
    return {"nbest": tmp_path / "small.tsv", "refs": tmp_path / "small.ref",
            "report": tmp_path / "report.json"}


def _rescore_small(model: Path, files: dict[str, Path], *extra: str) -> int:
    return main(["rescore", "--model", str(model), "--nbest", str(files["nbest"]),
                 "--refs", str(files["refs"]), "--report", str(files["report"]), "--threads", "1", "--quiet",
                 "--lam", "0.5", *extra])


def test_beta_flag_is_a_deprecated_word_bonus(tiny_model: Path, small_nbest: dict, capsys):
    assert _rescore_small(tiny_model, small_nbest, "--word-bonus", "1.5") == 0
    new_out = capsys.readouterr().out
    new_report = json.loads(small_nbest["report"].read_text())
    with pytest.warns(DeprecationWarning, match="--beta is deprecated; use --word-bonus"):
        assert _rescore_small(tiny_model, small_nbest, "--beta", "1.5") == 0
    old_out = capsys.readouterr().out
    old_report = json.loads(small_nbest["report"].read_text())
    assert old_report["weights"] == new_report["weights"] == {"lam": 0.5, "word_bonus": 1.5, "gamma": 0.0}
    assert old_out.splitlines()[0] == new_out.splitlines()[0]
    assert new_out.splitlines()[0] == "weights: lambda 0.500  word bonus 1.500  oov weight 0.000"
    assert _rescore_small(tiny_model, small_nbest, "--word-bonus", "1", "--beta", "1") == 2
    assert "give --word-bonus only" in capsys.readouterr().err


def test_beta_flag_warning_is_shown_where_deprecations_are_ignored(tiny_model: Path, small_nbest: dict,
                                                                   monkeypatch):
    """Python ignores DeprecationWarnings raised outside __main__; the one about a flag the user
    typed is shown all the same (unless -W options say otherwise)."""
    monkeypatch.setattr(sys, "warnoptions", [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", DeprecationWarning)
        assert _rescore_small(tiny_model, small_nbest, "--beta", "1") == 0
    assert [str(w.message) for w in caught] == ["rnnlm-fast rescore: --beta is deprecated; use --word-bonus"]
    assert caught[0].category is DeprecationWarning


def test_rescore_help_names_word_bonus_only():
    text = build_parser().commands["rescore"].format_help()
    assert "--word-bonus" in text and "--beta" not in text
