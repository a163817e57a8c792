"""``rnnlm-fast rescore --ngram LM``: an n-gram LM (KenLM) next to the RNNLM.

Two ways (rnnlm_fast/ngram.py holds the rules both models share):

- a feature: every hypothesis gets the n-gram's natural-log score as ``scores["ngram_ln"]``
  (``NGRAM_KEY``), weighted by ``ngram`` in ``total = am + lam*lm + ... + ngram*ngram_ln``,
  tuned with the other weights (``--ngram-weight`` fixes it);
- ``--ngram-interpolate W``: the LM score itself becomes the word-by-word mixture
  ``sum log(W * P_ngram + (1 - W) * P_rnn)`` (rnnlm-0.4b's ``-lm-prob``), weighted by ``lam``;
  the n-gram's own score is still kept as ``ngram_ln`` for the output lists, unweighted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnnlm_fast.errors import ConfigError
from rnnlm_fast.ngram import NgramLM, interpolated_scores, ngram_sentence_scores
from rnnlm_fast.ngram_cli import add_ngram_arguments
from rnnlm_fast.options import OPTIONS
from rnnlm_fast.units import LN10

from .lists import NbestList
from .scoring import score_models

if TYPE_CHECKING:
    from rnnlm_fast.model import RNNLM

__all__ = ["NGRAM_KEY", "add_rescore_ngram_arguments", "check_ngram_args", "load_ngram", "ngram_report",
           "score_with_ngram"]

NGRAM_KEY = "ngram_ln"


def add_rescore_ngram_arguments(p: argparse.ArgumentParser) -> None:
    """``--ngram``, ``--ngram-interpolate`` and ``--ngram-weight``."""
    g = add_ngram_arguments(p, "an n-gram LM (ARPA file or KenLM binary) scored in process by KenLM (the kenlm "
                               'extra: pip install "rnnlm-fast[kenlm]"): its natural-log score is a feature '
                               "weighted by the n-gram weight, tuned with the others")
    g.add_argument("--ngram-weight", type=float, default=None,
                   help="the n-gram feature's weight: fixed (not tuned); needed with --lam")


def check_ngram_args(args: argparse.Namespace) -> None:
    """Refuse n-gram flags that do not fit together, before anything is read."""
    if not args.ngram:
        for flag, value in (("--ngram-interpolate", args.ngram_interpolate), ("--ngram-weight", args.ngram_weight)):
            if value is not None:
                raise ConfigError(f"{flag} needs --ngram (the n-gram LM)")
        return
    if args.ngram_interpolate is not None:
        OPTIONS["ngram_interpolate"].check(args.ngram_interpolate)
        if args.ngram_weight is not None:
            raise ConfigError("--ngram-weight weighs the n-gram as a feature of its own; with --ngram-interpolate "
                              "the n-gram is mixed into the LM score (weighted by --lam): give one of them")
        if args.mix_model or args.second_model:
            raise ConfigError("--ngram-interpolate mixes the n-gram word by word with --model alone; it cannot be "
                              "combined with --mix-model or --second-model")
    elif args.lam is not None and args.ngram_weight is None:
        raise ConfigError("--lam fixes the weights: give the n-gram's too (--ngram-weight), or tune them with "
                          "--tune-nbest")


def load_ngram(args: argparse.Namespace, model: RNNLM) -> NgramLM | None:
    """The n-gram of ``--ngram`` (None without it). A backward RNNLM cannot be interpolated."""
    if not args.ngram:
        return None
    if args.ngram_interpolate is not None and model.backward:
        raise ConfigError(f"--ngram-interpolate mixes word by word with a left-to-right LM; '{args.model}' is a "
                          "backward model")
    return NgramLM(args.ngram, progress=not getattr(args, "quiet", False))


def _attach(lists: Sequence[NbestList], values: np.ndarray) -> None:
    for h, value in zip((h for nb in lists for h in nb.hyps), values.tolist()):
        h.scores[NGRAM_KEY] = value


def score_with_ngram(lists: Sequence[NbestList], models: Sequence[RNNLM], mix: np.ndarray, mu_model: RNNLM | None,
                     ngram: NgramLM | None, weight: float | None, **options) -> tuple[np.ndarray, float]:
    """``score_models``, with the n-gram's score attached to every hypothesis as ``NGRAM_KEY``
    (natural log) and, with an interpolation ``weight``, the LM score the word-by-word mixture
    of ``models[0]`` and the n-gram. Returns (natural-log LM score per hypothesis, seconds)."""
    if ngram is None:
        return score_models(lists, models, mix, mu_model, **options)
    sentences = [h.text for nb in lists for h in nb.hyps]
    case, oov = options["case"], options["oov"]
    if weight is None:
        lm, seconds = score_models(lists, models, mix, mu_model, **options)
        start = time.perf_counter()
        _attach(lists, ngram_sentence_scores(models[0], ngram, sentences, case=case, oov=oov) * LN10)
        return lm, seconds + time.perf_counter() - start
    start = time.perf_counter()
    scores = interpolated_scores(models[0], ngram, sentences, weight, independent=not options["carry_state"],
                                 oov=oov, oov_penalty=options["oov_penalty"], threads=options["threads"], case=case,
                                 max_oov_rate=options["max_oov_rate"])
    lm = scores.aligned.per_sentence(scores.mixed) * LN10
    _attach(lists, scores.aligned.per_sentence(scores.ngram) * LN10)
    bad = np.flatnonzero(~np.isfinite(lm))
    if bad.size:
        raise ConfigError(f"hypothesis {sentences[int(bad[0])]!r} has probability 0 in the interpolation: the RNNLM "
                          "has no <unk>, so its unknown words get the n-gram's share only; use "
                          "--ngram-interpolate above 0")
    return lm, time.perf_counter() - start


def ngram_report(args: argparse.Namespace, ngram: NgramLM | None) -> dict | None:
    """The report's ``ngram`` entry."""
    if ngram is None:
        return None
    return {"path": ngram.path, "order": ngram.order, "interpolate": args.ngram_interpolate,
            "as_feature": args.ngram_interpolate is None, "score_key": NGRAM_KEY}
