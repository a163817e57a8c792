"""``rnnlm-fast rescore``'s report: the JSON file and the lines printed on stdout.

Every error rate is in PERCENT, in the JSON (keys ending ``_percent``) as on stdout; the
hypotheses' OOV rate is a fraction, on the scale of ``--max-oov-rate``. Error counts follow
Kaldi's ``compute-wer``: ``%WER 8.82 [ 6 / 68, 1 ins, 2 del, 3 sub ]``.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Mapping

__all__ = ["command_line", "error_summary", "weights_line", "weights_report", "wer_line"]

_COUNTS = ("errors", "substitutions", "deletions", "insertions", "ref_words", "sentences", "sentence_errors")


def error_summary(wer: Mapping) -> dict:
    """``word_error_rate``'s dict (fractions) as the report holds it: ``wer_percent``,
    ``ser_percent`` and the counts (plus ``n`` for an oracle)."""
    out = {"wer_percent": 100.0 * wer["wer"], "ser_percent": 100.0 * wer["ser"]}
    out.update({k: wer[k] for k in _COUNTS})
    if "n" in wer:
        out["n"] = wer["n"]
    return out


def wer_line(summary: Mapping, label: str) -> str:
    """``%WER 8.82 [ 6 / 68, 1 ins, 2 del, 3 sub ]  %SER 41.67 [ 5 / 12 ]  <label>`` (Kaldi's form)."""
    s = summary
    return (f"%WER {s['wer_percent']:.2f} [ {s['errors']} / {s['ref_words']}, {s['insertions']} ins, "
            f"{s['deletions']} del, {s['substitutions']} sub ]  "
            f"%SER {s['ser_percent']:.2f} [ {s['sentence_errors']} / {s['sentences']} ]  {label}")


def weights_report(weights: Mapping[str, float], with_mu: bool, with_ngram: bool = False) -> dict:
    """The weights, ``mu`` only where it weighs something (a first-pass LM or a second model),
    ``ngram`` only with an n-gram feature (``--ngram`` without ``--ngram-interpolate``)."""
    return {k: v for k, v in weights.items() if (k != "mu" or with_mu) and (k != "ngram" or with_ngram)}


def weights_line(weights: Mapping[str, float]) -> str:
    """``weights: lambda 0.500  word bonus 1.000  [mu 0.300  ]oov weight -4.000[  n-gram 0.400]``."""
    mu = f"mu {weights['mu']:.3f}  " if "mu" in weights else ""
    ngram = f"  n-gram {weights['ngram']:.3f}" if "ngram" in weights else ""
    return (f"weights: lambda {weights['lam']:.3f}  word bonus {weights['word_bonus']:.3f}  {mu}"
            f"oov weight {weights['gamma']:.3f}{ngram}")


def command_line(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """The command, rebuilt from the parsed options: every option whose value differs from its
    default, in the parser's order (so a report says how to run it again)."""
    words = ["rnnlm-fast", "rescore"]
    for action in parser._actions:
        if not action.option_strings:
            continue
        value = getattr(args, action.dest, action.default)
        if value == action.default or value is None or value is False:
            continue
        flag = (action.option_strings[-1] if action.option_strings[-1].startswith("--")
                else action.option_strings[0])
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            for v in value:
                words += [flag, str(v)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)
