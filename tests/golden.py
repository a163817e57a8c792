"""Golden behaviour: digests of seeded one-thread runs and of CLI outputs on fixed inputs.

Written before the structural refactor of issue 12 and run after it, to prove that moving
code changed nothing: every cell, with and without direct connections, forward and
backward, trained through the API and through ``rnnlm-fast train``, must give the same
model-file bytes and the same scores; ``eval``, ``score`` and ``rescore`` must print the
same text and write the same files.

Only the public API and the command line are used, so the digests survive any
reorganisation below them. Timings (seconds, words/s) are the one thing allowed to vary:
they are dropped from the history in the header and from printed lines.

Floating-point results depend on the kernel clone the CPU selects (AVX-512, AVX2,
baseline), so digests are stored per kernel level; ``python tests/golden.py --write``
records them for this machine's level (only ever from the commit being preserved).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import re
import struct
import sys
from pathlib import Path
from typing import Callable

import numpy as np

GOLDEN_FILE = Path(__file__).with_name("golden.json")
CELLS = ("sigmoid", "tanh", "relu", "gru", "lstm")
TIMING_KEYS = ("seconds", "words_per_sec")
_PRELUDE = struct.Struct("<8sIII")


def kernel_level() -> str:
    """The x86-64 level whose kernel clones this CPU runs (GCC's resolver picks the same)."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        return "unknown"
    if {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= flags:
        return "x86-64-v4"
    if {"avx2", "fma", "bmi1", "bmi2", "movbe", "f16c"} <= flags:
        return "x86-64-v3"
    return "default"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_file_digest(path: Path) -> str:
    """SHA-256 of a model file with the history's timings zeroed: the prelude's version, the
    JSON header (re-encoded as the writer does) and every byte after it."""
    raw = path.read_bytes()
    magic, version, head_size, _ = _PRELUDE.unpack_from(raw)
    header = json.loads(raw[_PRELUDE.size:_PRELUDE.size + head_size].decode("utf-8"))
    for record in header.get("history") or []:
        for key in TIMING_KEYS:
            if key in record:
                record[key] = 0
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    start = -(-(_PRELUDE.size + head_size) // 64) * 64
    return _sha(magic + struct.pack("<I", version) + head + raw[start:])


def write_corpus(path: Path, n_sentences: int, seed: int, vocab_size: int = 30) -> Path:
    """Text with structure to learn (each word mostly predicts the next), some words rare."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_sentences):
        cur = rng.randrange(vocab_size)
        words = []
        for _ in range(rng.randint(2, 9)):
            words.append(f"w{cur}")
            cur = (cur * 7 + 3) % vocab_size if rng.random() < 0.7 else rng.randrange(vocab_size + 5)
        lines.append(" ".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_inputs(root: Path) -> dict[str, Path]:
    """The fixed inputs: train/valid/test text, an n-best TSV with references."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "train": write_corpus(root / "train.txt", 160, seed=1),
        "valid": write_corpus(root / "valid.txt", 40, seed=2),
        "test": write_corpus(root / "test.txt", 30, seed=3),
    }
    rng = random.Random(4)
    refs, rows = [], ["utt_id\trank\tam\ttext"]
    for u, line in enumerate((root / "test.txt").read_text().splitlines()[:12]):
        words = line.split()
        refs.append(f"utt{u} {line}")
        correct = rng.randint(1, 4)  # the reference's rank: the first pass is not always right
        for rank in range(1, 5):
            hyp = list(words)
            for _ in range(abs(rank - correct)):
                i = rng.randrange(len(hyp))
                hyp[i] = f"w{rng.randrange(35)}" if rng.random() < 0.8 else hyp[i]
            rows.append(f"utt{u}\t{rank}\t{-3.0 * len(hyp) - rng.random() * 4:.4f}\t{' '.join(hyp)}")
    (root / "nbest.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "refs.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    files["nbest"], files["refs"] = root / "nbest.tsv", root / "refs.txt"
    return files


SENTENCES = ["w1 w10 w13", "w3 w24 w9 w6 w15", "w0", "w7 w99 w2", ""]


def _floats(values) -> str:
    return _sha(np.ascontiguousarray(np.asarray(values, dtype=np.float64)).tobytes())


def api_case(root: Path, files: dict[str, Path], cell: str, direct: int, direction: str) -> dict[str, str]:
    """Train through the API (one thread, seeded), save, and score in every way."""
    from rnnlm_fast import RNNLM, Vocabulary

    vocab = Vocabulary.from_corpus(files["train"], min_count=2, classes=6)
    model = RNNLM(vocab, hidden=12, cell=cell, seed=3, direct=direct, direct_order=3, direction=direction)
    model.train(files["train"], files["valid"], max_epochs=3, threads=1, progress=False)
    path = root / f"api-{cell}-{direct}-{direction}.rnnlm"
    model.save(path)
    loaded = RNNLM.load(path)
    ppl = loaded.perplexity(files["test"], per_word=True)
    return {
        "model_file": model_file_digest(path),
        "score": _floats(loaded.score(SENTENCES)),
        "score_carried": _floats(loaded.score(SENTENCES, independent=False, threads=2)),
        "score_words": _floats(np.concatenate(loaded.score_words(SENTENCES))),
        "perplexity": _floats([ppl.ppl, ppl.ppl_with_oov, ppl.log10_prob, ppl.words, ppl.oov, ppl.sentences]),
        "perplexity_per_word": _floats(ppl.word_log10),
        "perplexity_independent": _floats([loaded.perplexity(files["test"], independent=True).ppl]),
        "dynamic": _floats([loaded.perplexity(files["test"], dynamic=0.05).ppl]),
        "next_word": _floats(loaded.next_word_distribution(["w1", "w10"])),
        "generate": _sha("\n".join(loaded.generate(4, prefix="w1", max_words=8, seed=5)).encode()),
    }


def _run_cli(argv: list[str], root: Path) -> str:
    """stdout of one CLI call (which must succeed), timings and the temporary directory removed."""
    from rnnlm_fast.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(argv)
    if rc != 0:
        raise AssertionError(f"rnnlm-fast {' '.join(argv)} exited with {rc}")
    text = out.getvalue().replace(str(root), "<root>")
    text = re.sub(r"\(\s*\d+ words/s\)", "(_ words/s)", text)
    text = re.sub(r"in [0-9.]+ s", "in _ s", text)
    text = re.sub(r"\s+[0-9.]+ words/s\s+[0-9.]+ s", " _ words/s _ s", text)
    return text


def cli_case(root: Path, files: dict[str, Path], cell: str, direct: int, backward: bool) -> dict[str, str]:
    """Train, eval, score and rescore through the command line."""
    name = f"cli-{cell}-{direct}-{'bwd' if backward else 'fwd'}"
    model = root / f"{name}.rnnlm"
    argv = ["train", "--train", str(files["train"]), "--valid", str(files["valid"]), "--output", str(model),
            "--hidden", "10", "--classes", "5", "--min-count", "2", "--cell", cell, "--max-epochs", "3",
            "--seed", "7", "--threads", "1", "--quiet", "--no-checkpoint"]
    if direct:
        argv += ["--direct", str(direct), "--direct-order", "2"]
    if backward:
        argv.append("--backward")
    out: dict[str, str] = {"train_stdout": _run_cli(argv, root)}
    out["model_file"] = model_file_digest(model)
    out["eval"] = _run_cli(["eval", "--model", str(model), "--text", str(files["test"]), "--per-word",
                            "--quiet"], root)
    out["score"] = _run_cli(["score", "--model", str(model), "--text", str(files["test"])], root)
    if not backward:
        best, tsv = root / f"{name}.1best", root / f"{name}.tsv"
        out["rescore"] = _run_cli(["rescore", "--model", str(model), "--nbest", str(files["nbest"]),
                                   "--refs", str(files["refs"]), "--tune-nbest", str(files["nbest"]),
                                   "--tune-refs", str(files["refs"]), "--threads", "1", "--quiet",
                                   "--output-1best", str(best), "--output-nbest", str(tsv)], root)
        out["rescore_1best"] = best.read_text()
        out["rescore_tsv"] = _sha(tsv.read_bytes())
    return out


def cases() -> list[tuple[str, Callable[[Path, dict[str, Path]], dict[str, str]]]]:
    """Every case by name, with the function computing its digests."""
    out = []
    for cell in CELLS:
        for direct in (0, 4000):
            for direction in ("forward", "backward"):
                out.append((f"api/{cell}/direct{direct}/{direction}",
                            lambda root, files, c=cell, d=direct, r=direction:
                                api_case(root, files, c, d, r)))
    for cell in ("sigmoid", "lstm"):
        for direct in (0, 4000):
            for backward in (False, True):
                out.append((f"cli/{cell}/direct{direct}/{'backward' if backward else 'forward'}",
                            lambda root, files, c=cell, d=direct, b=backward: cli_case(root, files, c, d, b)))
    return out


def compute_all(root: Path) -> dict[str, dict[str, str]]:
    files = make_inputs(root / "inputs")
    return {name: fn(root, files) for name, fn in cases()}


if __name__ == "__main__":  # python tests/golden.py --write
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/golden.py --write   (records this machine's digests)")
    stored = json.loads(GOLDEN_FILE.read_text()) if GOLDEN_FILE.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        stored[kernel_level()] = compute_all(Path(tmp))
    GOLDEN_FILE.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(stored[kernel_level()])} cases for {kernel_level()} in {GOLDEN_FILE}")
