"""Plots: ``rnnlm-fast plot`` from real history files written by a short training, and
``rescore --plot`` (WER against the LM weight on the tuning set)."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
from corpora import write_corpus

from rnnlm_fast.cli import main
from rnnlm_fast.errors import CorpusError
from rnnlm_fast.nbest import read_nbest, read_text, tune_weights
from rnnlm_fast.nbest.wer_curve import wer_by_lam
from rnnlm_fast.plot import read_history

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason='the plot extra is not installed (pip install "rnnlm-fast[plot]")')


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short training run through the command line: its model file and --history-json."""
    d = tmp_path_factory.mktemp("run")
    train, valid = write_corpus(d / "train.txt", 120, seed=0), write_corpus(d / "valid.txt", 30, seed=1)
    assert main(["train", "--train", str(train), "--valid", str(valid), "--output", str(d / "m.rnnlm"),
                 "--hidden", "8", "--classes", "4", "--max-epochs", "3", "--threads", "1",
                 "--history-json", str(d / "history.json"), "--quiet"]) == 0
    return {"dir": d, "model": d / "m.rnnlm", "history": d / "history.json"}


def _png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(path)


def test_histories_are_read_from_every_file_training_writes(run):
    from_json = read_history(run["history"])
    assert [r["epoch"] for r in from_json] == [1, 2, 3]
    assert read_history(run["model"]) == from_json  # the model file's header holds the same history
    wrapped = run["dir"] / "wrapped.json"
    wrapped.write_text(json.dumps({"history": from_json}))
    assert read_history(wrapped) == from_json


@pytest.mark.parametrize("content, message", [
    ("not json", "not a training history"),
    ("[]", "holds no training epochs"),
    ('[{"epoch": 1}]', "epoch record 1 lacks one of epoch, lr, train_ppl, valid_ppl"),
])
def test_a_file_without_a_history_is_refused(tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(CorpusError, match=message):
        read_history(bad)


@needs_matplotlib
def test_plot_writes_a_png_of_the_asked_size_that_is_not_blank(run, tmp_path, capsys):
    out = tmp_path / "curve.png"
    assert main(["plot", str(run["history"]), str(run["model"]), "-o", str(out), "--width", "640",
                 "--height", "480", "--labels", "json,model"]) == 0
    assert "6 epochs of 2 run(s)" in capsys.readouterr().out
    pixels = _png(out)
    assert pixels.shape[:2] == (480, 640)
    rgb = pixels[..., :3]
    drawn = np.any(rgb < 0.9, axis=-1)  # anything darker than near-white
    assert 0.01 < drawn.mean() < 0.6
    coloured = np.ptp(rgb, axis=-1) > 0.2  # the curves are in colour, not only black axes and text
    assert coloured.sum() > 200
    # An existing output is kept unless --overwrite.
    assert main(["plot", str(run["history"]), "-o", str(out)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["plot", str(run["history"]), "-o", str(out), "--overwrite", "--width", "300",
                 "--height", "200"]) == 0
    assert _png(out).shape[:2] == (200, 300)


@needs_matplotlib
@pytest.mark.parametrize("extra, message", [
    (["--width", "5"], "width must be a number of pixels in 100..10000"),
    (["--labels", "a,b"], "--labels gives 2 names for 1 history files"),
])
def test_plot_refuses_bad_sizes_and_labels(run, tmp_path, capsys, extra, message):
    assert main(["plot", str(run["history"]), "-o", str(tmp_path / "x.png"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_without_matplotlib_plot_says_how_to_install_it(run, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", str(run["history"]), "-o", str(tmp_path / "x.png")]) == 2
    _out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and 'pip install "rnnlm-fast[plot]"' in err
    assert not (tmp_path / "x.png").exists()


@pytest.fixture
def nbest_set(tmp_path):
    """Lists whose first pass is often wrong and an LM that can fix some of it."""
    rows, refs = [], []
    rng = np.random.default_rng(0)
    for u in range(40):
        ref = " ".join(f"w{int(i)}" for i in rng.integers(0, 5, 4))
        wrong = ref + " w9"
        good_first = rng.random() < 0.5
        for rank, text in enumerate([ref, wrong] if good_first else [wrong, ref], 1):
            rows.append(f"u{u}\t{rank}\t{-1.0 * rank:.1f}\t{text}")
        refs.append(f"u{u} {ref}")
    nbest = tmp_path / "dev.tsv"
    nbest.write_text("utt_id\trank\tam\ttext\n" + "\n".join(rows) + "\n")
    ref = tmp_path / "dev.ref"
    ref.write_text("\n".join(refs) + "\n")
    corpus = write_corpus(tmp_path / "lm.txt", 60, vocab_size=10)
    model = tmp_path / "lm.rnnlm"
    assert main(["train", "--train", str(corpus), "--valid", str(corpus), "--output", str(model),
                 "--hidden", "4", "--classes", "2", "--max-epochs", "1", "--quiet"]) == 0
    return {"nbest": nbest, "refs": ref, "model": model}


@needs_matplotlib
def test_rescore_plots_wer_against_the_lm_weight(nbest_set, tmp_path):
    png, report = tmp_path / "wer.png", tmp_path / "report.json"
    s = nbest_set
    assert main(["rescore", "--model", str(s["model"]), "--nbest", str(s["nbest"]),
                 "--tune-nbest", str(s["nbest"]), "--tune-refs", str(s["refs"]), "--plot", str(png),
                 "--report", str(report), "--threads", "1", "--quiet"]) == 0
    pixels = _png(png)
    assert pixels.shape[:2] == (500, 800) and np.any(pixels[..., :3] < 0.9, axis=-1).mean() > 0.01
    assert json.loads(report.read_text())["tuning"]["plot"] == str(png)


def test_the_wer_curve_passes_through_the_tuned_point(nbest_set):
    from rnnlm_fast import RNNLM

    lists, refs = read_nbest(nbest_set["nbest"]), read_text(nbest_set["refs"])
    lm = RNNLM.load(nbest_set["model"]).score([h.text for nb in lists for h in nb.hyps]) * np.log(10)
    tuned = tune_weights(lists, lm, refs)
    lams, wers = wer_by_lam(lists, lm, refs, tuned.weights)
    assert lams[0] == 0 and len(lams) >= 41 and np.all(np.diff(lams) > 0)
    assert wers[list(lams).index(tuned.weights.lam)] == pytest.approx(100 * tuned.wer)
    assert wers.min() == pytest.approx(100 * tuned.wer)  # the tuner found the curve's minimum


def test_rescore_plot_needs_tuning(nbest_set, tmp_path, capsys):
    assert main(["rescore", "--model", str(nbest_set["model"]), "--nbest", str(nbest_set["nbest"]),
                 "--lam", "1", "--plot", str(tmp_path / "x.png"), "--quiet"]) == 2
    assert "--plot draws the WER of the tuning set: it needs --tune-nbest" in capsys.readouterr().err
