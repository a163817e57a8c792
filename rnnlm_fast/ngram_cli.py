"""``rnnlm-fast eval --ngram LM [--ngram-interpolate W]``: an n-gram LM's perplexity on the
positions eval scores, and its word-by-word mixture with the RNNLM (rnnlm_fast/ngram.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np

from .encoding import read_lines
from .errors import ConfigError, CorpusError
from .ngram import NgramLM, aligned_text, interpolated_scores
from .options import OPTIONS, add_arguments

if TYPE_CHECKING:
    from .model import RNNLM, PerplexityResult

__all__ = ["add_ngram_arguments", "load_eval_ngram", "report_eval_ngram"]

NGRAM_HELP = ("an n-gram LM (ARPA file or KenLM binary), scored in process by KenLM (the kenlm extra: "
              'pip install "rnnlm-fast[kenlm]")')


def add_ngram_arguments(p: argparse.ArgumentParser, ngram_help: str = NGRAM_HELP) -> argparse._ArgumentGroup:
    """Add ``--ngram`` and ``--ngram-interpolate`` (options.py) to ``p``, in a group of their own."""
    g = p.add_argument_group("n-gram LM (KenLM)")
    g.add_argument("--ngram", metavar="LM", help=ngram_help)
    add_arguments(g, ["ngram_interpolate"])
    return g


def load_eval_ngram(args: argparse.Namespace, model: RNNLM) -> NgramLM | None:
    """The n-gram of ``eval --ngram`` (None without it), after checking the flags: before any scoring."""
    if args.ngram_interpolate is not None and not args.ngram:
        raise ConfigError("--ngram-interpolate needs --ngram (the n-gram LM to mix in)")
    if not args.ngram:
        return None
    if args.lm_prob:
        raise ConfigError("--ngram and --lm-prob both mix another LM into the RNNLM; give one of them")
    if args.ngram_interpolate is not None:
        OPTIONS["ngram_interpolate"].check(args.ngram_interpolate)
        if model.backward:
            raise ConfigError(f"--ngram-interpolate mixes word by word with a left-to-right LM; '{args.model}' "
                              "is a backward model")
    return NgramLM(args.ngram, progress=not getattr(args, "quiet", False))


def _ppl(log10_sum: float, n: int) -> float:
    with np.errstate(over="ignore"):
        return float(np.power(10.0, -log10_sum / max(n, 1)))


def report_eval_ngram(model: RNNLM, ngram: NgramLM, args: argparse.Namespace, res: PerplexityResult) -> None:
    """Print the n-gram's perplexity on the positions of eval's PPL (every word the RNNLM knows,
    and each ``</s>``) and, with ``--ngram-interpolate``, the mixture's, also with OOV words."""
    lines = read_lines(args.text)
    weight = args.ngram_interpolate
    if weight is None:
        aligned = aligned_text(model, lines, case=args.case, drop_bos=False)
        ngram_log10, ngram_unk = ngram.word_log10(aligned.texts)
        mixed = None
    else:
        scores = interpolated_scores(model, ngram, lines, weight, rnn_log10=res.word_log10, case=args.case,
                                     drop_bos=False)
        aligned, ngram_log10, ngram_unk, mixed = scores.aligned, scores.ngram, scores.ngram_unk, scores.mixed
    if len(ngram_log10) != len(res.word_log10):
        raise CorpusError(f"{args.text}: KenLM scored {len(ngram_log10)} positions, the RNNLM {len(res.word_log10)}")
    known = ~aligned.unknown
    n = int(known.sum())
    ngram_known = float(ngram_log10[known].sum())
    print(f"n-gram {ngram.path} (order {ngram.order}): log10 prob {ngram_known:.2f}  PPL {_ppl(ngram_known, n):.2f} "
          f"on the {n} positions of PPL ({int(ngram_unk.sum())} scored as KenLM's <unk>)"
          + (f"; PPL with OOV {_ppl(float(ngram_log10.sum()), len(ngram_log10)):.2f}" if res.oov else ""))
    if mixed is not None:
        mixed_known = float(mixed[known].sum())
        line = (f"interpolated ({weight:g} * n-gram + {1 - weight:g} * RNNLM, word by word): log10 prob "
                f"{mixed_known:.2f}  PPL {_ppl(mixed_known, n):.2f}")
        if res.oov:
            line += f"  PPL with OOV {_ppl(float(mixed.sum()), len(mixed)):.2f}"
        print(line)
