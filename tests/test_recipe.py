"""recipes/librispeech/run.sh end to end in its CI size (SMOKE=1: every 2000th line of the book
corpus, hidden 16, two epochs): the stages run, skip when their output exists, resume a
training from its checkpoint, and report WER on dev_other with weights tuned on dev_clean.
Needs ../shared/data (the book corpus and the LibriSpeech n-best lists); skipped without it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from corpora import DATA
from helpers import stopped_run

from rnnlm_fast import RNNLM, Vocabulary

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "librispeech" / "run.sh"


def _run(work: Path, **env) -> str:
    data = DATA
    if not (data / "gutenberg" / "train.txt.gz").is_file() or not (data / "nbest" / "librispeech_espnet_10best").is_dir():
        pytest.skip(f"the book corpus or the LibriSpeech n-best lists are not under {data}")
    bindir = str(Path(sys.executable).parent)
    full_env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), PYTHON=sys.executable,
                    DATA=str(data), WORK=str(work), SMOKE="1", RESCORE_THREADS="2", **env)
    proc = subprocess.run(["bash", str(RECIPE)], env=full_env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _wer(work: Path, name: str, dev: str) -> dict:
    return json.loads((work / f"{name}.{dev}.json").read_text())


def _unigram_arpa(text: Path, out: Path) -> Path:
    """A unigram ARPA file of ``text`` (maximum likelihood, <unk> given a count of 1), as a bigram model."""
    counts = Counter(w for line in text.read_text(encoding="utf-8").splitlines() for w in line.split())
    counts["</s>"] = sum(1 for line in text.read_text(encoding="utf-8").splitlines())
    counts["<unk>"] = 1
    total = sum(counts.values())
    lines = ["\\data\\", f"ngram 1={len(counts) + 1}", "ngram 2=1", "", "\\1-grams:", "-99\t<s>\t0"]
    lines += [f"{math.log10(c / total):.6f}\t{w}\t0" for w, c in sorted(counts.items())]
    # KenLM reads bigram models and up: one bigram, which the unigrams back off to
    lines += ["", "\\2-grams:", "-2.0\t<s> </s>"]
    out.write_text("\n".join(lines + ["", "\\end\\", ""]), encoding="utf-8")
    return out


def test_recipe_runs_skips_resumes_and_reports(tmp_path):
    work = tmp_path / "exp"
    out = _run(work, BACKWARD="1")
    for stage in ("prepare training text", "vocabulary", "train the forward model", "train the backward model",
                  "rescore: the forward model", "rescore: forward + backward"):
        assert f"== {stage}: " in out and f"== {stage}: " + str(work) not in out  # ran and timed
    history = json.loads((work / "forward.history.json").read_text())
    assert len(history["epochs"] if isinstance(history, dict) else history) == 2
    nolm = _wer(work, "nolm", "dev_other")
    assert nolm["after"]["wer_percent"] == nolm["before"]["wer_percent"]  # lambda 0: the first pass
    for name in ("forward", "both"):
        report = _wer(work, name, "dev_other")
        assert report["tuning"]["nbest"].endswith("dev_clean")  # tuned on the other set, never on dev_other
        assert report["before"]["wer_percent"] == nolm["before"]["wer_percent"]
    table = out[out.index("WER (%), weights tuned"):]
    assert "forward RNNLM" in table and "+ backward RNNLM" in table

    # Again, with an n-gram, and the forward model's training interrupted after one epoch (a
    # checkpoint, no model): the earlier stages skip, the training resumes, the n-gram stage runs.
    pytest.importorskip("kenlm", reason="the kenlm extra is not installed")
    (work / "forward.rnnlm").unlink()
    model = RNNLM(Vocabulary.load(work / "vocab.txt"), cell="lstm", hidden=16, seed=1)
    stopped_run(model, work / "train.txt", work / "valid.txt", work / "forward.ckpt", 1, lr=0.05, max_epochs=2,
                min_improvement=1.003, bptt=4, bptt_block=10, independent=True)
    arpa = _unigram_arpa(work / "train.txt", tmp_path / "unigram.arpa")
    out = _run(work, BACKWARD="1", NGRAM=str(arpa), NGRAM_INTERPOLATE="0.5")
    for stage in ("prepare training text", "vocabulary", "train the backward model", "rescore: the forward model"):
        assert f"== {stage}: {work}" in out
    assert f"resuming from {work / 'forward.ckpt'}" in out
    resumed = RNNLM.load(work / "forward.rnnlm")
    assert [r.epoch for r in resumed.history] == [1, 2] and not (work / "forward.ckpt").exists()
    report = _wer(work, "forward_4gram", "dev_other")
    assert report["ngram"]["interpolate"] == 0.5
    assert "forward RNNLM + 4-gram" in out[out.index("WER (%), weights tuned"):]
