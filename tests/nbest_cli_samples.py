"""A small lowercase model and n-best sets built around it, for the ``rnnlm-fast rescore`` tests."""

from __future__ import annotations

from pathlib import Path

from rnnlm_fast import RNNLM, Vocabulary
from rnnlm_fast.nbest import Hypothesis, NbestList, write_text, write_tsv_nbest

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "big", "red", "house"]


def make_lower_model(d: Path) -> Path:
    """An untrained lowercase model over WORDS (scores need no training), saved in ``d``."""
    text = d / "train.txt"
    text.write_text("\n".join(" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))) + "\n")
    model = RNNLM(Vocabulary.from_corpus(text, classes=2), hidden=4, seed=1)
    model.save(d / "lower.rnnlm")
    return d / "lower.rnnlm"


def write_set(root: Path, name: str, *, upper: bool = False, unknown: int = 0, utts: int = 4,
              old_lm: bool = False) -> dict[str, Path]:
    """``utts`` utterances of three hypotheses (TSV, am scores; ``lm`` too with ``old_lm``) and their
    references (rank 1 drops the last word, rank 2 is right); ``unknown`` words of each
    hypothesis replaced by words outside the model's vocabulary."""
    lists, refs = [], {}
    for u in range(utts):
        words = [WORDS[(u + i) % len(WORDS)] for i in range(5)]
        words[:unknown] = [f"zz{u}x{i}" for i in range(unknown)]
        hyps = []
        for rank in range(1, 4):
            hyp = {1: words[:4], 2: words, 3: [*words[:3], "big"]}[rank]  # rank 1 drops a word
            text = " ".join(hyp).upper() if upper else " ".join(hyp)
            scores = {"am": -2.0 * rank, "lm": -3.0 - rank} if old_lm else {"am": -2.0 * rank}
            hyps.append(Hypothesis(text, scores, rank))
        lists.append(NbestList(f"utt{u}", hyps))
        refs[f"utt{u}"] = " ".join(words).upper() if upper else " ".join(words)
    write_tsv_nbest(root / f"{name}.tsv", lists)
    write_text(root / f"{name}.ref", refs)
    return {"nbest": root / f"{name}.tsv", "refs": root / f"{name}.ref"}
