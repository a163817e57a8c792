"""The n-gram flags of the command line (rnnlm_fast/ngram.py does the work): ``rnnlm-fast eval
--ngram LM [--ngram-interpolate W]``, an n-gram LM's perplexity on the positions eval scores and
its word-by-word mixture with the RNNLM; ``rnnlm-fast rescore --ngram LM``, its flags and report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np

from .encoding import read_lines
from .errors import ConfigError, CorpusError
from .nbest.ngram_scoring import NGRAM_KEY
from .ngram import NgramLM, aligned_text, check_weight, interpolated_scores
from .options_cli import add_arguments

if TYPE_CHECKING:
    from .model import RNNLM, PerplexityResult

__all__ = ["add_ngram_arguments", "add_rescore_ngram_arguments", "check_ngram_args", "load_eval_ngram",
           "load_ngram", "ngram_report", "report_eval_ngram"]

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
        check_weight(args.ngram_interpolate)
        if model.backward:
            raise ConfigError("--ngram-interpolate mixes word by word with a left-to-right LM; "
                              f"'{args.model}' is a backward model")
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
        raise CorpusError(f"{args.text}: KenLM scored {len(ngram_log10)} positions, "
                          f"the RNNLM {len(res.word_log10)}")
    known = ~aligned.unknown
    n = int(known.sum())
    ngram_known = float(ngram_log10[known].sum())
    print(f"n-gram {ngram.path} (order {ngram.order}): log10 prob {ngram_known:.2f}  "
          f"PPL {_ppl(ngram_known, n):.2f} on the {n} positions of PPL ({int(ngram_unk.sum())} scored as "
          "KenLM's <unk>)"
          + (f"; PPL with OOV {_ppl(float(ngram_log10.sum()), len(ngram_log10)):.2f}" if res.oov else ""))
    if mixed is not None:
        mixed_known = float(mixed[known].sum())
        line = (f"interpolated ({weight:g} * n-gram + {1 - weight:g} * RNNLM, word by word): log10 prob "
                f"{mixed_known:.2f}  PPL {_ppl(mixed_known, n):.2f}")
        if res.oov:
            line += f"  PPL with OOV {_ppl(float(mixed.sum()), len(mixed)):.2f}"
        print(line)


# --- rescore --ngram (rnnlm_fast/nbest/ngram_scoring.py scores) ---------------------------------------

def add_rescore_ngram_arguments(p: argparse.ArgumentParser) -> None:
    """``--ngram``, ``--ngram-interpolate`` and ``--ngram-weight``."""
    g = add_ngram_arguments(p, "an n-gram LM (ARPA file or KenLM binary) scored in process by KenLM (the "
                               'kenlm extra: pip install "rnnlm-fast[kenlm]"): its natural-log score is a '
                               "feature weighted by the n-gram weight, tuned with the others")
    g.add_argument("--ngram-weight", type=float, default=None,
                   help="the n-gram feature's weight: fixed (not tuned); needed with --lam")


def check_ngram_args(args: argparse.Namespace) -> None:
    """Refuse n-gram flags that do not fit together, before anything is read."""
    if not args.ngram:
        for flag, value in (("--ngram-interpolate", args.ngram_interpolate),
                            ("--ngram-weight", args.ngram_weight)):
            if value is not None:
                raise ConfigError(f"{flag} needs --ngram (the n-gram LM)")
        return
    if args.ngram_interpolate is not None:
        check_weight(args.ngram_interpolate)
        if args.ngram_weight is not None:
            raise ConfigError("--ngram-weight weighs the n-gram as a feature of its own; with "
                              "--ngram-interpolate the n-gram is mixed into the LM score (weighted by "
                              "--lam): give one of them")
        if args.mix_model or args.second_model:
            raise ConfigError("--ngram-interpolate mixes the n-gram word by word with --model alone; it "
                              "cannot be combined with --mix-model or --second-model")
    elif args.lam is not None and args.ngram_weight is None:
        raise ConfigError("--lam fixes the weights: give the n-gram's too (--ngram-weight), or tune them "
                          "with --tune-nbest")


def load_ngram(args: argparse.Namespace, model: RNNLM) -> NgramLM | None:
    """The n-gram of ``--ngram`` (None without it). A backward RNNLM cannot be interpolated."""
    if not args.ngram:
        return None
    if args.ngram_interpolate is not None and model.backward:
        raise ConfigError(f"--ngram-interpolate mixes word by word with a left-to-right LM; '{args.model}' "
                          "is a backward model")
    return NgramLM(args.ngram, progress=not getattr(args, "quiet", False))


def ngram_report(args: argparse.Namespace, ngram: NgramLM | None) -> dict | None:
    """The report's ``ngram`` entry."""
    if ngram is None:
        return None
    return {"path": ngram.path, "order": ngram.order, "interpolate": args.ngram_interpolate,
            "as_feature": args.ngram_interpolate is None, "score_key": NGRAM_KEY}
