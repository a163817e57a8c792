"""``rnnlm-fast rescore``: score n-best lists with an RNNLM, tune and apply the weights."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Callable

import numpy as np

from .errors import ConfigError
from .model import RNNLM
from .nbest import Weights, lm_log_probs, rescore, tune_weights, write_one_best, write_rescored_tsv
from .nbest_formats import NbestList, read_nbest, read_text
from .vocab import Vocabulary

FORMATS = ("rnnlm", "kaldi", "espnet", "srilm", "tsv")


_CASE_MAPPINGS: dict[str, Callable[[str], str]] = {"keep": lambda s: s, "upper": str.upper, "lower": str.lower}


def _case_mapping(case: str) -> Callable[[str], str]:
    """The function that maps hypotheses to the model's case (``--case``)."""
    if case not in _CASE_MAPPINGS:
        raise ConfigError(f"case must be one of {tuple(_CASE_MAPPINGS)}")
    return _CASE_MAPPINGS[case]


def score_lists(model: RNNLM, lists: list[NbestList], *, case: str = "keep", oov: str = "auto",
                oov_penalty: float = -5.0, carry_state: bool = False, threads: int = 1,
                progress: bool = False) -> np.ndarray:
    """Natural-log RNNLM probability of every hypothesis, in list order, one batched call."""
    fix = _case_mapping(case)

    def score_fn(sentences: list[str]) -> np.ndarray:
        return model.score([fix(s) for s in sentences], independent=not carry_state, oov=oov,
                           oov_penalty=oov_penalty, threads=threads, progress=progress)

    return lm_log_probs(lists, score_fn)


def oov_counts(model: RNNLM, lists: list[NbestList], *, case: str = "keep") -> np.ndarray:
    """Number of words outside the model's vocabulary in every hypothesis, in list order.

    One batched encoding call; ``case`` maps the words as ``score_lists`` does.
    """
    fix = _case_mapping(case)
    sentences = [fix(h.text) for nb in lists for h in nb.hyps]
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
                        "Kaldi's lmrescore_back.sh --weight, 0.5 there), instead of tuning mu for the second; "
                        "short for --mix-model SECOND --mix-weights 1-W,W")
    p.add_argument("--mix-model", action="append", default=[], metavar="PATH",
                   help="another RNNLM mixed into the LM score (repeatable): the LM score is sum_i w_i ln P_i "
                        "over --model and every --mix-model (a log-linear ensemble, e.g. forward + backward + "
                        "an LSTM); the OOV count (gamma) is --model's")
    p.add_argument("--mix-weights", metavar="W1,W2,...",
                   help="weights of --model and each --mix-model, in that order: non-negative, summing to 1 "
                        "(default: equal)")
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


SECOND_LM_KEY = "lm2"


def mixture_weights(text: str | None, n_models: int) -> np.ndarray:
    """Parse ``--mix-weights`` for ``n_models`` models (equal weights when ``text`` is None)."""
    if text is None:
        return np.full(n_models, 1.0 / n_models)
    try:
        weights = np.array([float(w) for w in text.split(",")])
    except ValueError:
        raise ConfigError(f"--mix-weights must be comma-separated numbers, not {text!r}") from None
    if len(weights) != n_models:
        raise ConfigError(f"--mix-weights gives {len(weights)} weights for {n_models} models "
                          "(--model and each --mix-model, in that order)")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-6:
        raise ConfigError(f"--mix-weights must be non-negative and sum to 1, not {text!r}")
    return weights


def mix_scores(scores: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Log-linear mixture of several models' natural-log scores of the same hypotheses."""
    return np.sum([w * s for w, s in zip(weights.tolist(), scores)], axis=0)


def _attach_scores(lists: list[NbestList], key: str, values: np.ndarray) -> None:
    """Store one score per hypothesis (flat list order) as ``scores[key]``."""
    for h, value in zip((h for nb in lists for h in nb.hyps), values.tolist()):
        h.scores[key] = value


def _read_and_score(path: str, fmt: str | None, models: list[RNNLM], mix: np.ndarray, mu_model: RNNLM | None,
                    opts: dict) -> tuple[list[NbestList], np.ndarray, float]:
    """Read n-best lists and score them with every model; returns the lists, the natural-log LM
    scores and the scoring time in seconds.

    With several ``models`` the LM score is their mixture with weights ``mix``, and each model's
    own score is kept in the hypotheses' scores as ``lm1``, ``lm2``, ... in the models' order.
    ``mu_model``'s score (the free ``mu`` feature) is kept as ``lm2``.
    """
    lists = read_nbest(path, fmt)
    start = time.perf_counter()
    scores = [score_lists(m, lists, **opts) for m in models]
    mu_scores = score_lists(mu_model, lists, **opts) if mu_model is not None else None
    seconds = time.perf_counter() - start
    lm = scores[0]
    if len(scores) > 1:
        for i, values in enumerate(scores, 1):
            _attach_scores(lists, f"lm{i}", values)
        lm = mix_scores(scores, mix)
    if mu_scores is not None:
        _attach_scores(lists, SECOND_LM_KEY, mu_scores)
    return lists, lm, seconds


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
        weights = Weights(args.lam, args.beta, args.mu, args.oov_weight or 0.0)
    elif args.tune_nbest:
        if not args.tune_refs:
            raise ConfigError("--tune-nbest needs --tune-refs")
        dev, dev_lm, dev_seconds = _read_and_score(args.tune_nbest, args.tune_format, models, mix,
                                                   mu_model, opts)
        gamma_grid = None if args.oov_weight is None else [args.oov_weight]
        tuned = tune_weights(dev, dev_lm, read_text(args.tune_refs), old_lm_key=args.old_lm_key,
                             n_oov=oov_counts(model, dev, case=args.case), gamma_grid=gamma_grid)
        weights = tuned.weights
        report["tuning"] = {"nbest": args.tune_nbest, "refs": args.tune_refs, "wer": tuned.wer,
                            "ser": tuned.ser, "grid_points": tuned.evaluated, "scoring_seconds": dev_seconds}
    else:
        raise ConfigError("give --lam (and --beta/--mu/--oov-weight), or --tune-nbest with --tune-refs")
    lists, lm, seconds = _read_and_score(args.nbest, args.format, models, mix, mu_model, opts)
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
