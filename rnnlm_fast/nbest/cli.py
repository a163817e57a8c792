"""``rnnlm-fast rescore``: the argparse glue over the n-best API."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import numpy as np

from rnnlm_fast.errors import ConfigError
from rnnlm_fast.model import RNNLM
from rnnlm_fast.options import add_arguments
from rnnlm_fast.vocab import Vocabulary

from .formats import FORMATS
from .scoring import (
    CASE_MAPPINGS,
    SECOND_LM_KEY,
    mixture_weights,
    oov_counts,
    read_and_score,
    rescore,
    write_one_best,
    write_rescored_tsv,
)
from .text import read_text
from .tune import Weights, tune_weights

__all__ = ["add_rescore_parser", "cmd_rescore"]


def add_rescore_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``rescore`` subcommand to ``sub``."""
    p = sub.add_parser("rescore", help="rescore ASR n-best lists (tune weights on a dev set, report WER)")
    p.add_argument("--model", required=True)
    p.add_argument("--vocab", help="check the model against this vocabulary file")
    p.add_argument("--nbest", required=True, help="n-best lists to rescore (file or directory)")
    p.add_argument("--format", choices=FORMATS, help="input format (detected when omitted)")
    p.add_argument("--refs", help="reference transcripts ('utt-id words' lines) for the WER report")
    p.add_argument("--tune-nbest", help="dev n-best lists to tune lambda/word bonus(/mu) on")
    p.add_argument("--tune-refs", help="references of the dev lists")
    p.add_argument("--tune-format", choices=FORMATS)
    p.add_argument("--lam", type=float, default=None, help="LM weight (natural-log units); skip tuning")
    p.add_argument("--word-bonus", type=float, default=None,
                   help="word insertion bonus, added per word (natural log; default 0)")
    p.add_argument("--beta", type=float, default=None, help=argparse.SUPPRESS)  # deprecated: --word-bonus
    p.add_argument("--mu", type=float, default=0.0, help="weight of the first-pass LM score, if any")
    p.add_argument("--oov-weight", type=float, default=None,
                   help="gamma: added per word outside the LM vocabulary (natural log); tuned with "
                        "--tune-nbest unless given, 0 with --lam unless given")
    p.add_argument("--old-lm-key", default=None, help="score name of the first-pass LM (e.g. 'lm' for Kaldi)")
    p.add_argument("--second-model",
                   help="another RNNLM whose score is the 'mu' feature (an ensemble of two); exclusive with "
                        "--old-lm-key")
    p.add_argument("--second-model-weight", type=float, default=None, metavar="W",
                   help="mix the two models into one LM score, (1 - W) * first + W * second (log-linear, "
                        "as Kaldi's lmrescore_back.sh --weight, 0.5 there), instead of tuning mu for the "
                        "second; short for --mix-model SECOND --mix-weights 1-W,W")
    p.add_argument("--mix-model", action="append", default=[], metavar="PATH",
                   help="another RNNLM mixed into the LM score (repeatable): the LM score is sum_i w_i "
                        "ln P_i over --model and every --mix-model (a log-linear ensemble, e.g. forward + "
                        "backward + an LSTM); the OOV count (gamma) is --model's")
    p.add_argument("--mix-weights", metavar="W1,W2,...",
                   help="weights of --model and each --mix-model, in that order: non-negative, summing to 1 "
                        "(default: equal)")
    p.add_argument("--case", choices=tuple(CASE_MAPPINGS), default="keep",
                   help="map hypotheses to the model's case before scoring")
    add_arguments(p, ["oov", "oov_penalty", "threads"])
    p.add_argument("--carry-state", action="store_true", help="carry the hidden state between hypotheses")
    p.add_argument("--output-1best", help="write the rescored 1-best ('utt-id words')")
    p.add_argument("--output-nbest", help="write the full lists with the new scores (TSV)")
    p.add_argument("--report", help="write the report as JSON")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_rescore, threads=0)  # all cores: rescoring is a batch job


def _warn_deprecated(message: str) -> None:
    """A DeprecationWarning that reaches stderr: whoever typed the old flag is the one to tell,
    while Python hides DeprecationWarnings raised outside ``__main__``. ``-W`` options still rule."""
    with warnings.catch_warnings():
        if not sys.warnoptions:
            warnings.simplefilter("default", DeprecationWarning)
        warnings.warn(message, DeprecationWarning, stacklevel=3)


def _word_bonus(args: argparse.Namespace) -> float:
    """``--word-bonus``, or its deprecated spelling ``--beta``; 0 when neither is given."""
    if args.beta is not None:
        if args.word_bonus is not None:
            raise ConfigError("give --word-bonus only, not also its deprecated spelling --beta")
        _warn_deprecated("rnnlm-fast rescore: --beta is deprecated; use --word-bonus")
        return args.beta
    return 0.0 if args.word_bonus is None else args.word_bonus


def _describe(path: str, model: RNNLM) -> dict:
    return {"path": path, "vocab_size": len(model.vocab), "hidden": model.hidden, "classes": model.n_classes,
            "cell": model.cell, "direction": model.direction, "parameters": model.n_parameters()}


def _plan_models(args: argparse.Namespace) -> tuple[list[str], np.ndarray, str | None]:
    """From the model options: the paths mixed with ``--model``, the mixture's weights (``--model``
    first), and the path of the model whose score is the free ``mu`` feature, if any. Checked
    before any model is loaded, as loading a large one takes seconds."""
    mix_paths = list(args.mix_model)
    if args.second_model_weight is not None:
        if not args.second_model:
            raise ConfigError("--second-model-weight needs --second-model")
        if not 0.0 <= args.second_model_weight <= 1.0:
            raise ConfigError(f"--second-model-weight must be in [0, 1], not {args.second_model_weight}")
        if mix_paths or args.mix_weights:
            raise ConfigError("--second-model-weight mixes two models; for more, give every other model as "
                              "--mix-model with --mix-weights")
        return [args.second_model], np.array([1.0 - args.second_model_weight, args.second_model_weight]), None
    if args.second_model and args.old_lm_key:
        raise ConfigError("--second-model and --old-lm-key both use the 'mu' feature; give one of them "
                          "(or mix the two models with --second-model-weight)")
    if args.second_model and mix_paths:
        raise ConfigError("--second-model (the 'mu' feature) and --mix-model cannot be combined; "
                          "give the second model as another --mix-model")
    if args.mix_weights and not mix_paths:
        raise ConfigError("--mix-weights needs --mix-model")
    return mix_paths, mixture_weights(args.mix_weights, 1 + len(mix_paths)), args.second_model


def cmd_rescore(args: argparse.Namespace) -> int:
    """Run ``rnnlm-fast rescore``: score, tune or apply the weights, write the outputs and report."""
    word_bonus = _word_bonus(args)
    mix_paths, mix, mu_model_path = _plan_models(args)
    vocab = Vocabulary.load(args.vocab) if args.vocab else None
    model = RNNLM.load(args.model, vocab=vocab)
    models = [model] + [RNNLM.load(path) for path in mix_paths]
    mu_model = RNNLM.load(mu_model_path) if mu_model_path else None
    if mu_model is not None:
        args.old_lm_key = SECOND_LM_KEY
    show = not args.quiet and sys.stderr.isatty()
    opts = {"case": args.case, "oov": args.oov, "oov_penalty": args.oov_penalty,
            "carry_state": args.carry_state, "threads": args.threads, "progress": show}
    weights: Weights | None = None
    report: dict = {"model": _describe(args.model, model),
                    "oov": args.oov, "oov_penalty": args.oov_penalty, "case": args.case}
    if args.second_model:
        second = models[1] if mu_model is None else mu_model
        report["second_model"] = dict(_describe(args.second_model, second),
                                      mixed_with_weight=args.second_model_weight)
    if len(models) > 1:
        report["mixture"] = [dict(_describe(path, m), weight=w)
                             for path, m, w in zip([args.model, *mix_paths], models, mix.tolist())]
    if args.lam is not None:
        weights = Weights(args.lam, word_bonus, args.mu, args.oov_weight or 0.0)
    elif args.tune_nbest:
        if not args.tune_refs:
            raise ConfigError("--tune-nbest needs --tune-refs")
        dev, dev_lm, dev_seconds = read_and_score(args.tune_nbest, args.tune_format, models, mix, mu_model,
                                                  **opts)
        gamma_grid = None if args.oov_weight is None else [args.oov_weight]
        tuned = tune_weights(dev, dev_lm, read_text(args.tune_refs), old_lm_key=args.old_lm_key,
                             n_oov=oov_counts(model, dev, case=args.case), gamma_grid=gamma_grid)
        weights = tuned.weights
        report["tuning"] = {"nbest": args.tune_nbest, "refs": args.tune_refs, "wer": tuned.wer,
                            "ser": tuned.ser, "grid_points": tuned.evaluated, "scoring_seconds": dev_seconds}
    else:
        raise ConfigError("give --lam (and --word-bonus/--mu/--oov-weight), or --tune-nbest with --tune-refs")
    lists, lm, seconds = read_and_score(args.nbest, args.format, models, mix, mu_model, **opts)
    n_oov = oov_counts(model, lists, case=args.case)
    refs = read_text(args.refs) if args.refs else None
    one_best, rep = rescore(lists, lm, weights, refs, old_lm_key=args.old_lm_key, n_oov=n_oov)
    n_words = sum(len(h.words) for nb in lists for h in nb.hyps)
    report.update(rep, scoring_seconds=seconds, hypotheses_per_sec=len(lm) / seconds if seconds else None,
                  hypothesis_words=n_words, hypothesis_oov_rate=float(n_oov.sum()) / max(n_words, 1))
    if args.output_1best:
        write_one_best(args.output_1best, one_best)
    if args.output_nbest:
        write_rescored_tsv(args.output_nbest, lists, lm, weights, old_lm_key=args.old_lm_key, n_oov=n_oov)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    w = report["weights"]
    # The stdout text is kept byte-identical (a golden test): the word bonus is still printed as "beta".
    print(f"weights: lambda {w['lam']:.3f}  beta {w['word_bonus']:.3f}  mu {w['mu']:.3f}  "
          f"oov weight {w['gamma']:.3f}")
    print(f"scored {report['hypotheses']} hypotheses of {report['utterances']} utterances in "
          f"{seconds:.2f} s; {report['changed']} 1-best changed")
    if refs is not None:
        print(f"WER {100 * report['wer_before']:.2f} -> {100 * report['wer_after']:.2f}  "
              f"SER {100 * report['ser_before']:.2f} -> {100 * report['ser_after']:.2f}  "
              f"oracle WER {100 * report['oracle_wer']:.2f}")
    return 0
