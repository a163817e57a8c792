"""``rnnlm-fast rescore``: score n-best lists with an RNNLM, tune and apply the weights."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .errors import ConfigError
from .model import RNNLM
from .nbest import Weights, lm_log_probs, rescore, tune_weights, write_one_best, write_rescored_tsv
from .nbest_formats import NbestList, read_nbest, read_text
from .vocab import Vocabulary

FORMATS = ("rnnlm", "kaldi", "espnet", "srilm", "tsv")


def score_lists(model: RNNLM, lists: list[NbestList], *, case: str = "keep", oov: str = "auto",
                oov_penalty: float = -5.0, carry_state: bool = False, threads: int = 1,
                progress: bool = False) -> np.ndarray:
    """Natural-log RNNLM probability of every hypothesis, in list order, one batched call."""
    mapping = {"keep": lambda s: s, "upper": str.upper, "lower": str.lower}
    if case not in mapping:
        raise ConfigError(f"case must be one of {tuple(mapping)}")
    fix = mapping[case]

    def score_fn(sentences: list[str]) -> np.ndarray:
        return model.score([fix(s) for s in sentences], independent=not carry_state, oov=oov,
                           oov_penalty=oov_penalty, threads=threads, progress=progress)

    return lm_log_probs(lists, score_fn)


def oov_counts(model: RNNLM, lists: list[NbestList], *, case: str = "keep") -> np.ndarray:
    """Number of words outside the model's vocabulary in every hypothesis, in list order.

    One batched encoding call; ``case`` maps the words as ``score_lists`` does.
    """
    mapping = {"keep": lambda s: s, "upper": str.upper, "lower": str.lower}
    if case not in mapping:
        raise ConfigError(f"case must be one of {tuple(mapping)}")
    sentences = [mapping[case](h.text) for nb in lists for h in nb.hyps]
    if not sentences:
        return np.zeros(0)
    enc = model.encode_sentences(sentences)
    unknown = np.concatenate([(enc.ids < 0).astype(np.float64), [0.0]])
    # offsets[i]..offsets[i+1] spans sentence i (its </s> included, never unknown); the
    # padding element keeps reduceat defined for a last sentence that is only </s>.
    return np.add.reduceat(unknown, enc.offsets[:-1])


def add_rescore_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rescore", help="rescore ASR n-best lists (tune weights on a dev set, report WER)")
    p.add_argument("--model", required=True)
    p.add_argument("--vocab", help="check the model against this vocabulary file")
    p.add_argument("--nbest", required=True, help="n-best lists to rescore (file or directory)")
    p.add_argument("--format", choices=FORMATS, help="input format (detected when omitted)")
    p.add_argument("--refs", help="reference transcripts ('utt-id words' lines) for the WER report")
    p.add_argument("--tune-nbest", help="dev n-best lists to tune lambda/beta(/mu) on")
    p.add_argument("--tune-refs", help="references of the dev lists")
    p.add_argument("--tune-format", choices=FORMATS)
    p.add_argument("--lam", type=float, default=None, help="LM weight (natural-log units); skip tuning")
    p.add_argument("--beta", type=float, default=0.0, help="word insertion bonus per word")
    p.add_argument("--mu", type=float, default=0.0, help="weight of the first-pass LM score, if any")
    p.add_argument("--oov-weight", type=float, default=None,
                   help="gamma: added per word outside the LM vocabulary (natural log); tuned with "
                        "--tune-nbest unless given, 0 with --lam unless given")
    p.add_argument("--old-lm-key", default=None, help="score name of the first-pass LM (e.g. 'lm' for Kaldi)")
    p.add_argument("--second-model", help="another RNNLM whose score is the 'mu' feature (an ensemble of two); "
                                          "exclusive with --old-lm-key")
    p.add_argument("--second-model-weight", type=float, default=None, metavar="W",
                   help="mix the two models into one LM score, (1 - W) * first + W * second (log-linear, as "
                        "Kaldi's lmrescore_back.sh --weight, 0.5 there), instead of tuning mu for the second")
    p.add_argument("--case", choices=("keep", "upper", "lower"), default="keep",
                   help="map hypotheses to the model's case before scoring")
    p.add_argument("--oov", choices=("auto", "unk", "penalty"), default="auto")
    p.add_argument("--oov-penalty", type=float, default=-5.0, help="log10 score of an unknown word (rnnlm-0.4b: -5)")
    p.add_argument("--carry-state", action="store_true", help="carry the hidden state between hypotheses")
    p.add_argument("--threads", type=int, default=0, help="scoring threads (0 = all cores)")
    p.add_argument("--output-1best", help="write the rescored 1-best ('utt-id words')")
    p.add_argument("--output-nbest", help="write the full lists with the new scores (TSV)")
    p.add_argument("--report", help="write the report as JSON")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_rescore)


FIRST_LM_KEY, SECOND_LM_KEY = "lm1", "lm2"


def _attach_scores(lists: list[NbestList], key: str, values: np.ndarray) -> None:
    """Store one score per hypothesis (flat list order) as ``scores[key]``."""
    for h, value in zip((h for nb in lists for h in nb.hyps), values.tolist()):
        h.scores[key] = value


def attach_second_lm(model: RNNLM, lists: list[NbestList], **opts) -> np.ndarray:
    """Store a second model's natural-log score of every hypothesis as ``scores['lm2']``;
    return those scores."""
    lm2 = score_lists(model, lists, **opts)
    _attach_scores(lists, SECOND_LM_KEY, lm2)
    return lm2


def _read_and_score(path: str, fmt: str | None, model: RNNLM, second: RNNLM | None,
                    opts: dict, second_weight: float | None = None) -> tuple[list[NbestList], np.ndarray, float]:
    """Read n-best lists and score them (and with the second model, if any); returns the
    lists, the natural-log LM scores and the scoring time in seconds.

    With ``second_weight`` the LM score is the mixture of both models' scores, each of
    which is also kept in the hypotheses' scores (``lm1``, ``lm2``).
    """
    lists = read_nbest(path, fmt)
    start = time.perf_counter()
    lm = score_lists(model, lists, **opts)
    lm2 = attach_second_lm(second, lists, **opts) if second is not None else None
    seconds = time.perf_counter() - start
    if lm2 is not None and second_weight is not None:
        _attach_scores(lists, FIRST_LM_KEY, lm)
        lm = (1.0 - second_weight) * lm + second_weight * lm2
    return lists, lm, seconds


def _describe(path: str, model: RNNLM) -> dict:
    return {"path": path, "vocab_size": len(model.vocab), "hidden": model.hidden, "classes": model.n_classes,
            "cell": model.cell, "direction": model.direction, "parameters": model.n_parameters()}


def cmd_rescore(args: argparse.Namespace) -> int:
    # option checks first: loading a large model takes seconds
    if args.second_model_weight is not None:
        if not args.second_model:
            raise ConfigError("--second-model-weight needs --second-model")
        if not 0.0 <= args.second_model_weight <= 1.0:
            raise ConfigError(f"--second-model-weight must be in [0, 1], not {args.second_model_weight}")
    elif args.second_model and args.old_lm_key:
        raise ConfigError("--second-model and --old-lm-key both use the 'mu' feature; give one of them "
                          "(or mix the two models with --second-model-weight)")
    vocab = Vocabulary.load(args.vocab) if args.vocab else None
    model = RNNLM.load(args.model, vocab=vocab)
    second = None
    if args.second_model:
        second = RNNLM.load(args.second_model)
        if args.second_model_weight is None:
            args.old_lm_key = SECOND_LM_KEY
    show = not args.quiet and sys.stderr.isatty()
    opts = {"case": args.case, "oov": args.oov, "oov_penalty": args.oov_penalty,
            "carry_state": args.carry_state, "threads": args.threads, "progress": show}
    weights: Weights | None = None
    report: dict = {"model": _describe(args.model, model),
                    "oov": args.oov, "oov_penalty": args.oov_penalty, "case": args.case}
    if second is not None:
        report["second_model"] = dict(_describe(args.second_model, second),
                                      mixed_with_weight=args.second_model_weight)
    if args.lam is not None:
        weights = Weights(args.lam, args.beta, args.mu, args.oov_weight or 0.0)
    elif args.tune_nbest:
        if not args.tune_refs:
            raise ConfigError("--tune-nbest needs --tune-refs")
        dev, dev_lm, dev_seconds = _read_and_score(args.tune_nbest, args.tune_format, model, second, opts,
                                                   args.second_model_weight)
        gamma_grid = None if args.oov_weight is None else [args.oov_weight]
        tuned = tune_weights(dev, dev_lm, read_text(args.tune_refs), old_lm_key=args.old_lm_key,
                             n_oov=oov_counts(model, dev, case=args.case), gamma_grid=gamma_grid)
        weights = tuned.weights
        report["tuning"] = {"nbest": args.tune_nbest, "refs": args.tune_refs, "wer": tuned.wer,
                            "ser": tuned.ser, "grid_points": tuned.evaluated, "scoring_seconds": dev_seconds}
    else:
        raise ConfigError("give --lam (and --beta/--mu/--oov-weight), or --tune-nbest with --tune-refs")
    lists, lm, seconds = _read_and_score(args.nbest, args.format, model, second, opts, args.second_model_weight)
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
    print(f"weights: lambda {w['lam']:.3f}  beta {w['beta']:.3f}  mu {w['mu']:.3f}  oov weight {w['gamma']:.3f}")
    print(f"scored {report['hypotheses']} hypotheses of {report['utterances']} utterances in {seconds:.2f} s; "
          f"{report['changed']} 1-best changed")
    if refs is not None:
        print(f"WER {100 * report['wer_before']:.2f} -> {100 * report['wer_after']:.2f}  "
              f"SER {100 * report['ser_before']:.2f} -> {100 * report['ser_after']:.2f}  "
              f"oracle WER {100 * report['oracle_wer']:.2f}")
    return 0
