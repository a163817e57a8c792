"""``rnnlm-fast rescore``: the argparse glue over the n-best API."""

from __future__ import annotations

import argparse
import json
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rnnlm_fast import __version__
from rnnlm_fast._files import check_output, require_file
from rnnlm_fast._progress import wanted as progress_wanted
from rnnlm_fast.encoding import oov_warnings_to_stderr
from rnnlm_fast.errors import ConfigError, MissingFileError, OovWarning
from rnnlm_fast.model import RNNLM
from rnnlm_fast.ngram import check_weight
from rnnlm_fast.ngram_cli import add_rescore_ngram_arguments, check_ngram_args, load_ngram, ngram_report
from rnnlm_fast.deprecation import renamed
from rnnlm_fast.options_cli import add_arguments
from rnnlm_fast.plot import plot_wer_curve, require_matplotlib
from rnnlm_fast.vocab import Vocabulary

from .checks import check_oov_rate, check_refs_match, check_scores
from .combine import Weights
from .formats import FORMATS, detect_format, read_nbest
from .lists import AM, NbestList
from .ngram_scoring import NGRAM_KEY, score_with_ngram
from .outputs import OUTPUT_FORMATS, write_rescored
from .report import command_line, error_summary, weights_line, weights_report, wer_line
from .scoring import SECOND_LM_KEY, mixture_weights, oov_counts, rescore, write_one_best
from .text import read_text
from .tune import tune_weights
from .wer_curve import wer_by_lam

__all__ = ["add_rescore_parser", "cmd_rescore"]

EXAMPLES = """\
examples:
  # tune the weights on one dev set, apply them to another, write the new 1-best and a report
  rnnlm-fast rescore --model books.rnnlm --nbest inference/dev_other --refs dev_other/text \\
      --tune-nbest inference/dev_clean --tune-refs dev_clean/text \\
      --output-1best dev_other.1best --report dev_other.json

  # fixed weights (no tuning), Kaldi lists with their first-pass LM cost as the mu feature,
  # the rescored lists written back as Kaldi text/acwt/lmwt
  rnnlm-fast rescore --model books.rnnlm --nbest exp/nbest --old-lm-key lm \\
      --lam 0.5 --mu 0.5 --word-bonus 0.5 --output-nbest rescored --output-format kaldi

  # four models mixed into one LM score; a lowercase model on uppercase lists
  rnnlm-fast rescore --model fwd.rnnlm --mix-model bwd.rnnlm --mix-model lstm.rnnlm \\
      --mix-model lstm_bwd.rnnlm --case lower --nbest dev.tsv --refs dev.ref --lam 0.6

All scores are natural logs: total = am + lambda * lm + mu * old_lm + word_bonus * n_words
+ gamma * n_oov. Error rates are percentages on stdout and in the report (docs/rescoring.md).
"""


def add_rescore_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``rescore`` subcommand to ``sub``."""
    p = sub.add_parser("rescore", help="rescore ASR n-best lists (tune weights on a dev set, report WER)",
                       description="Rescore ASR n-best lists with RNNLMs: score every hypothesis, combine "
                                   "the scores with weights that are tuned on a dev set by WER (or given), "
                                   "and write the new 1-best, the rescored lists and a report.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("inputs")
    g.add_argument("--model", required=True, help="the RNNLM (an rnnlm-fast model file)")
    g.add_argument("--vocab", help="check the model against this vocabulary file")
    g.add_argument("--nbest", required=True, help="n-best lists to rescore (file or directory)")
    g.add_argument("--format", choices=FORMATS, help="format of --nbest (detected when omitted)")
    g.add_argument("--refs",
                   help="reference transcripts of --nbest ('utt-id words' lines) for the WER report")
    g.add_argument("--tune-nbest", help="dev n-best lists to tune lambda, word bonus, gamma (and mu) on")
    g.add_argument("--tune-refs", help="references of the dev lists (needed with --tune-nbest)")
    g.add_argument("--tune-format", choices=FORMATS, help="format of --tune-nbest (detected when omitted)")
    g = p.add_argument_group("weights (natural log; tuned with --tune-nbest, or given with --lam)")
    g.add_argument("--lam", type=float, default=None, help="LM weight lambda; giving it skips tuning")
    g.add_argument("--word-bonus", type=float, default=None,
                   help="word insertion bonus, added per word (default 0)")
    g.add_argument("--beta", type=float, default=None, help=argparse.SUPPRESS)  # deprecated: --word-bonus
    g.add_argument("--mu", type=float, default=0.0,
                   help="weight of the first-pass LM score (--old-lm-key) or of --second-model's score "
                        "(default 0)")
    g.add_argument("--oov-weight", type=float, default=None,
                   help="gamma: added per word outside the LM vocabulary; tuned with --tune-nbest unless "
                        "given, 0 with --lam unless given")
    g.add_argument("--old-lm-key", default=None,
                   help="score name of the first-pass LM in the lists (e.g. 'lm' for Kaldi or SRILM), "
                        "weighted by mu")
    g = p.add_argument_group("more models")
    g.add_argument("--second-model",
                   help="another RNNLM whose score is the 'mu' feature (an ensemble of two); exclusive with "
                        "--old-lm-key")
    g.add_argument("--second-model-weight", type=float, default=None, metavar="W",
                   help="mix the two models into one LM score, (1 - W) * first + W * second (log-linear, "
                        "as Kaldi's lmrescore_back.sh --weight, 0.5 there), instead of tuning mu for the "
                        "second; short for --mix-model SECOND --mix-weights 1-W,W")
    g.add_argument("--mix-model", action="append", default=[], metavar="PATH",
                   help="another RNNLM mixed into the LM score (repeatable): the LM score is sum_i w_i "
                        "ln P_i over --model and every --mix-model (a log-linear ensemble, e.g. forward + "
                        "backward + an LSTM); the OOV count (gamma) is --model's")
    g.add_argument("--mix-weights", metavar="W1,W2,...",
                   help="weights of --model and each --mix-model, in that order: non-negative, summing to 1 "
                        "(default: equal)")
    add_rescore_ngram_arguments(p)
    g = p.add_argument_group("scoring")
    add_arguments(g, ["case", "max_oov_rate", "oov", "oov_penalty", "threads", "carry_state"],
                  batch_command=True)
    g = p.add_argument_group("outputs (checked before any work)")
    g.add_argument("--output-1best", metavar="PATH", help="write the rescored 1-best ('utt-id words' lines)")
    g.add_argument("--output-nbest", metavar="PATH",
                   help="write the full lists with the new scores (a directory for kaldi, espnet, srilm)")
    g.add_argument("--output-format", choices=OUTPUT_FORMATS, default="tsv",
                   help="format of --output-nbest: tsv (default) has every feature as a column (n_words, "
                        "n_oov, each LM score, total) with first-pass ranks; kaldi, espnet, srilm and rnnlm "
                        "hold the rescored decision, hypotheses in the new order (docs/rescoring.md)")
    g.add_argument("--report", metavar="PATH", help="write the report as JSON (WER in percent, error counts, "
                   "weights, timings, version, command, start time)")
    g.add_argument("--plot", metavar="PNG", help="draw the tuning set's WER against the LM weight (the other "
                   "weights as tuned) into this PNG; needs --tune-nbest and the plot extra")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_rescore, rescore_parser=p)


def _word_bonus(args: argparse.Namespace) -> float:
    """``--word-bonus``, or its deprecated spelling ``--beta``; 0 when neither is given."""
    value = renamed("--beta", args.beta, "--word-bonus", args.word_bonus, typed=True, error=ConfigError,
                    where="rnnlm-fast rescore: ")
    return 0.0 if value is None else value


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
        check_weight(args.second_model_weight, "--second-model-weight")
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


def _check_paths(args: argparse.Namespace) -> None:
    """Every model file present and every output path writable, before anything is read."""
    for flag, path in [("--model", args.model), ("--vocab", args.vocab),
                       ("--second-model", args.second_model),
                       *(("--mix-model", m) for m in args.mix_model), ("--ngram", args.ngram)]:
        if path:
            require_file(path, f"{flag} file")
    if args.output_1best:
        check_output(args.output_1best, "--output-1best")
    if args.output_nbest:
        check_output(args.output_nbest, "--output-nbest",
                     directory=args.output_format in ("kaldi", "espnet", "srilm"))
    if args.report:
        check_output(args.report, "--report")
    if args.plot:
        if not args.tune_nbest:
            raise ConfigError("--plot draws the WER of the tuning set: it needs --tune-nbest "
                              "(and --tune-refs)")
        require_matplotlib()
        check_output(args.plot, "--plot")


def _read_set(nbest: str, format: str | None, refs_path: str | None, refs_flag: str,
              old_lm_key: str | None) -> tuple[list[NbestList], dict[str, str] | None]:
    """Read one set of lists (and its references), checked for what rescoring needs."""
    format = format or _detect_format(nbest)
    lists = read_nbest(nbest, format)
    check_scores(lists, nbest, format, AM, old_lm_key)
    refs = None
    if refs_path:
        refs = read_text(refs_path, what=f"references file ({refs_flag})")
        check_refs_match(lists, refs, nbest, refs_path)
    return lists, refs


def _detect_format(path: str) -> str:
    """``detect_format``, after the existence check ``read_nbest`` would make."""
    if not Path(path).exists():
        raise MissingFileError(f"{path}: n-best input does not exist")
    return detect_format(path)


def cmd_rescore(args: argparse.Namespace) -> int:
    """Run ``rnnlm-fast rescore``: check every input and output, then score, tune or apply the
    weights, write the outputs and the report."""
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    word_bonus = _word_bonus(args)
    mix_paths, mix, mu_model_path = _plan_models(args)
    if args.lam is None and not args.tune_nbest:
        raise ConfigError("give --lam (and --word-bonus/--mu/--oov-weight), or --tune-nbest with --tune-refs")
    if args.lam is None and not args.tune_refs:
        raise ConfigError("--tune-nbest needs --tune-refs")
    check_ngram_args(args)
    _check_paths(args)
    old_lm_key = SECOND_LM_KEY if mu_model_path else args.old_lm_key
    listed_key = None if mu_model_path else old_lm_key  # lm2 of a second model is attached when scored
    lists, refs = _read_set(args.nbest, args.format, args.refs, "--refs", listed_key)
    dev = dev_refs = None
    if args.lam is None:
        dev, dev_refs = _read_set(args.tune_nbest, args.tune_format, args.tune_refs, "--tune-refs",
                                  listed_key)
    vocab = Vocabulary.load(args.vocab) if args.vocab else None
    model = RNNLM.load(args.model, vocab=vocab)
    ngram = load_ngram(args, model)  # None without --ngram
    ngram_key = NGRAM_KEY if ngram is not None and args.ngram_interpolate is None else None
    models = [model] + [RNNLM.load(path) for path in mix_paths]
    mu_model = RNNLM.load(mu_model_path) if mu_model_path else None
    with oov_warnings_to_stderr():
        if dev is not None:
            check_oov_rate(model, dev, args.case, args.max_oov_rate, args.tune_nbest)
        oov_rate, n_words, n_positions = check_oov_rate(model, lists, args.case, args.max_oov_rate,
                                                        args.nbest)
    show = progress_wanted(args.quiet)
    opts = {"case": args.case, "oov": args.oov, "oov_penalty": args.oov_penalty,
            "carry_state": args.carry_state, "threads": args.threads, "progress": show,
            "max_oov_rate": 1.0}  # judged above, once per set
    with_mu = old_lm_key is not None
    report: dict = {"rnnlm_fast_version": __version__, "command": command_line(args, args.rescore_parser),
                    "started": started.isoformat(timespec="seconds"), "model": _describe(args.model, model),
                    "oov": args.oov, "oov_penalty": args.oov_penalty, "case": args.case}
    if args.second_model:
        second = models[1] if mu_model is None else mu_model
        report["second_model"] = dict(_describe(args.second_model, second),
                                      mixed_with_weight=args.second_model_weight)
    if len(models) > 1:
        report["mixture"] = [dict(_describe(path, m), weight=w)
                             for path, m, w in zip([args.model, *mix_paths], models, mix.tolist())]
    if ngram is not None:
        report["ngram"] = ngram_report(args, ngram)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OovWarning)  # said above, once per set
        if dev is not None:
            dev_lm, dev_seconds = score_with_ngram(dev, models, mix, mu_model, ngram, args.ngram_interpolate,
                                                   **opts)
            gamma_grid = None if args.oov_weight is None else [args.oov_weight]
            ngram_grid = None if args.ngram_weight is None else [args.ngram_weight]
            dev_oov = oov_counts(model, dev, case=args.case)
            tuned = tune_weights(dev, dev_lm, dev_refs, old_lm_key=old_lm_key, n_oov=dev_oov,
                                 gamma_grid=gamma_grid, ngram_key=ngram_key, ngram_grid=ngram_grid)
            weights = tuned.weights
            if args.plot:
                lams, wers = wer_by_lam(dev, dev_lm, dev_refs, weights, old_lm_key=old_lm_key, n_oov=dev_oov,
                                        ngram_key=ngram_key)
                title = f"WER of {Path(args.tune_nbest).name} by LM weight, the other weights as tuned"
                plot_wer_curve(lams, wers, weights.lam, args.plot, title=title)
            report["tuning"] = {"nbest": args.tune_nbest, "refs": args.tune_refs,
                                "wer_percent": 100.0 * tuned.wer, "ser_percent": 100.0 * tuned.ser,
                                "grid_points": tuned.evaluated, "scoring_seconds": dev_seconds}
            report["tuning"].update(on_edge=list(tuned.on_edge), score_scale=tuned.scale, plot=args.plot)
        else:
            weights = Weights(args.lam, word_bonus, args.mu, args.oov_weight or 0.0, args.ngram_weight or 0.0)
        lm, seconds = score_with_ngram(lists, models, mix, mu_model, ngram, args.ngram_interpolate, **opts)
    n_oov = oov_counts(model, lists, case=args.case)
    one_best, rep = rescore(lists, lm, weights, refs, old_lm_key=old_lm_key, n_oov=n_oov, ngram_key=ngram_key)
    report["weights"] = weights_report(rep["weights"], with_mu, with_ngram=ngram_key is not None)
    report.update(utterances=rep["utterances"], hypotheses=rep["hypotheses"], changed=rep["changed"])
    if refs is not None:
        for key, value in rep["scoring"].items():
            report[key] = error_summary(value)
    report.update(scoring_seconds=seconds, hypotheses_per_sec=len(lm) / seconds if seconds else None,
                  hypothesis_words=n_words, hypothesis_positions=n_positions, hypothesis_oov_rate=oov_rate)
    if args.output_1best:
        write_one_best(args.output_1best, one_best)
    if args.output_nbest:
        write_rescored(args.output_nbest, lists, lm, weights, args.output_format, old_lm_key=old_lm_key,
                       n_oov=n_oov, ngram_key=ngram_key)
    report["elapsed_seconds"] = time.perf_counter() - clock
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    print(weights_line(report["weights"]))
    print(f"scored {report['hypotheses']} hypotheses of {report['utterances']} utterances ({n_positions} "
          f"positions: {n_words} words and {report['hypotheses']} </s>) in {seconds:.2f} s; "
          f"{report['changed']} 1-best changed")
    if refs is not None:
        print(wer_line(report["before"], "first-pass 1-best"))
        print(wer_line(report["after"], "rescored"))
        print(wer_line(report["oracle"], "oracle"))
        print(f"WER {report['before']['wer_percent']:.2f} -> {report['after']['wer_percent']:.2f}  "
              f"SER {report['before']['ser_percent']:.2f} -> {report['after']['ser_percent']:.2f}  "
              f"oracle WER {report['oracle']['wer_percent']:.2f}")
    return 0
