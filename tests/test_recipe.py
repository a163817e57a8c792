"""recipes/librispeech/run.sh end to end in its CI size (SMOKE=1 with every 250th line of the
book corpus, hidden 16, three epochs, one training thread): Ctrl-C during the forward model's
training, then a rerun that resumes from the recipe's own checkpoint; every rescoring row
changes the first pass's result (and the mixture and the n-gram change the forward row's);
a third run skips every stage. Needs ../shared/data (the book corpus and the LibriSpeech
n-best lists); skipped without it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpora import DATA, bigram_arpa

from rnnlm_fast import RNNLM
from rnnlm_fast.checkpoint import load_checkpoint

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "librispeech" / "run.sh"
EPOCHS = 3  # the interrupt comes after the first: two epochs of margin for a slow test process
STAGES = ("prepare training text", "prepare validation text", "vocabulary", "train the forward model",
          "rescore: no LM", "rescore: the forward model", "train the backward model",
          "rescore: forward + backward")


def _env(work: Path, **env: str) -> dict:
    data = DATA
    nbest = data / "nbest" / "librispeech_espnet_10best"
    if not (data / "gutenberg" / "train.txt.gz").is_file() or not nbest.is_dir():
        pytest.skip(f"the book corpus or the LibriSpeech n-best lists are not under {data}")
    bindir = str(Path(sys.executable).parent)
    # one training thread: the same models, so the same WER, on every run; epochs long enough to interrupt
    return dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), PYTHONUNBUFFERED="1",
                PYTHON=sys.executable, DATA=str(data), WORK=str(work), SMOKE="1", SMOKE_EVERY="250",
                SMOKE_EPOCHS=str(EPOCHS), THREADS="1", RESCORE_THREADS="2", BACKWARD="1", **env)


def _run(env: dict) -> str:
    proc = subprocess.run(["bash", str(RECIPE)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _epochs_done(checkpoint: Path) -> list[dict]:
    """The history a checkpoint holds; [] while there is none yet."""
    if not checkpoint.exists():
        return []
    try:
        model, _ = load_checkpoint(RNNLM, checkpoint)
    except FileNotFoundError:  # replaced between the check and the read
        return []
    return [vars(r) for r in model.history]


def _interrupt_training(env: dict, checkpoint: Path) -> tuple[int, str, list[dict]]:
    """Start the recipe, Ctrl-C it (SIGINT to its process group, as a terminal sends it) once
    the checkpoint holds a finished epoch; (exit status, its output, the checkpoint's history)."""
    proc = subprocess.Popen(["bash", str(RECIPE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while not _epochs_done(checkpoint) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the recipe ended before its first epoch was checkpointed: " + \
            proc.stderr.read()[-3000:]
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out + err, _epochs_done(checkpoint)


def _choices(work: Path, name: str) -> int:
    """A row's dev_other 1-best transcripts, hashed (an assertion on two equal files prints both)."""
    return hash((work / f"{name}.dev_other.1best").read_text())


def _report(work: Path, name: str) -> dict:
    return json.loads((work / f"{name}.dev_other.json").read_text())


def test_recipe_interrupted_resumes_from_its_checkpoint_and_every_row_rescores(tmp_path):
    work = tmp_path / "exp"
    env = _env(work)
    ckpt = work / "forward.ckpt"

    # 1. Ctrl-C in the forward model's training after its first epoch: no model, the recipe's
    # checkpoint after the last finished epoch
    status, said, interrupted = _interrupt_training(env, ckpt)
    assert status != 0 and f"interrupted: the model with the last good weights is not saved over anything; " \
        f"rerun with --resume to continue from '{ckpt}'" in said, said[-3000:]
    done = [r["epoch"] for r in interrupted]
    assert done == list(range(1, len(done) + 1)) and 1 <= len(done) < EPOCHS, said[-3000:]
    assert not (work / "forward.rnnlm").exists()

    # 2. The rerun: the data stages skip, the training resumes from that checkpoint, the rest runs
    ngram = None
    try:
        import kenlm  # noqa: F401  (the n-gram row needs the kenlm extra)
        ngram = bigram_arpa(work / "train.txt", tmp_path / "bigram.arpa")
    except ImportError:
        pass
    if ngram is not None:
        env.update(NGRAM=str(ngram), NGRAM_INTERPOLATE="0.5")
    out = _run(env)
    for stage in ("prepare training text", "prepare validation text", "vocabulary"):
        assert f"== {stage}: {work}" in out and "exists, skipped" in out
    assert f"resuming from {ckpt}" in out and f"== train the forward model: {work}" not in out
    training = out[out.index("== train the forward model\n"):out.index("== train the forward model: ")]
    trained = [int(line.split()[1]) for line in training.splitlines() if line.startswith("epoch ")]
    assert trained == list(range(len(done) + 1, EPOCHS + 1)), training  # only the epochs left
    resumed = [vars(r) for r in RNNLM.load(work / "forward.rnnlm").history]
    # the epochs done are the checkpoint's records, to their wall times: continued, not trained again
    assert [r["epoch"] for r in resumed] == list(range(1, EPOCHS + 1)) and not ckpt.exists()
    assert resumed[:len(interrupted)] == interrupted
    assert json.loads((work / "forward.history.json").read_text()) == resumed

    # every row is tuned on dev_clean, starts from the first pass, and changes its result
    nolm = _report(work, "nolm")
    assert nolm["after"]["wer_percent"] == nolm["before"]["wer_percent"]  # lambda 0: the first pass
    one_best = {name: _choices(work, name) for name in ("nolm", "forward", "both")}
    rows = {"forward": "forward RNNLM", "both": "+ backward RNNLM"}
    if ngram is not None:
        rows["forward_4gram"] = "forward RNNLM + 4-gram"
        one_best["forward_4gram"] = _choices(work, "forward_4gram")
        assert _report(work, "forward_4gram")["ngram"]["interpolate"] == 0.5
    table = out[out.index("WER (%), weights tuned"):]
    for name, label in rows.items():
        report = _report(work, name)
        assert report["tuning"]["nbest"].endswith("dev_clean"), name  # never tuned on dev_other
        assert report["before"]["wer_percent"] == nolm["before"]["wer_percent"], name
        assert report["after"]["wer_percent"] != nolm["after"]["wer_percent"], name
        assert one_best[name] != one_best["nolm"], f"{name}: the first pass's choices"
        assert f"{label} " in table, name
    # the backward model and the n-gram each change the forward row's choices
    assert one_best["both"] != one_best["forward"], "--mix-model changed no choice"
    if ngram is not None:
        assert one_best["forward_4gram"] != one_best["forward"], "--ngram changed no choice"

    # 3. Once more: every stage skips, the same table
    again = _run(env)
    for stage in STAGES:
        assert f"== {stage}: {work}" in again and f"== {stage}\n" not in again, stage
    assert again[again.index("WER (%), weights tuned"):] == table
