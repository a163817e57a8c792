"""Model files from one format to another: rnnlm-fast's and rnnlm-0.4b's (text or ``-binary``),
either way; ``rnnlm-fast convert`` is the command line over :func:`convert_model`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

import numpy as np

from ._files import PathLike, check_output, require_file
from .errors import ConfigError, ModelFormatError
from .model import RNNLM
from .model_file import MAGIC, describe_foreign
from .rnnlm04b import load_rnnlm04b, looks_like_rnnlm04b, save_rnnlm04b

__all__ = ["MODEL_FORMATS", "detect_model_format", "convert_model", "add_convert_parser", "cmd_convert"]

MODEL_FORMATS = ("rnnlm-fast", "rnnlm04b")


def detect_model_format(path: PathLike) -> str:
    """"rnnlm-fast" or "rnnlm04b" (text or binary), from the file's first bytes.

    Raises MissingFileError, or ModelFormatError for any other file."""
    p = require_file(path, "model file")
    with open(p, "rb") as f:
        head = f.read(20)
    if head.startswith(MAGIC):
        return "rnnlm-fast"
    if looks_like_rnnlm04b(p):
        return "rnnlm04b"
    raise ModelFormatError(f"{p}: neither an rnnlm-fast model nor an rnnlm-0.4b one: this looks like "
                           f"{'an empty file' if not head else describe_foreign(head)}")


def convert_model(source: PathLike, output: PathLike, *, from_format: str = "auto",
                  to_format: Optional[str] = None, binary: bool = False,
                  fold_biases: bool = False) -> tuple[RNNLM, str, str]:
    """Read the model at ``source`` and write it to ``output``; returns (model, from, to).

    ``from_format`` "auto" detects the format from the file. ``to_format`` defaults to the
    other format, or "rnnlm04b" when ``binary`` or ``fold_biases`` is given (both belong to
    rnnlm-0.4b's format: its ``-binary`` file; biases folded into an extra hidden unit, see
    :func:`rnnlm_fast.rnnlm04b.save_rnnlm04b`).

    Raises MissingFileError, ModelFormatError (what cannot be read, or written in the target
    format), ConfigError (contradictory arguments).
    """
    detected = detect_model_format(source)
    if from_format == "auto":
        from_format = detected
    elif from_format not in MODEL_FORMATS:
        raise ConfigError(f"unknown model format {from_format!r} (known: auto, {', '.join(MODEL_FORMATS)})")
    elif from_format != detected:
        raise ModelFormatError(f"{source}: given as {from_format}, but the file is "
                               f"{'an rnnlm-0.4b' if detected == 'rnnlm04b' else 'an rnnlm-fast'} model")
    if to_format is None:
        to_format = "rnnlm04b" if binary or fold_biases or from_format == "rnnlm-fast" else "rnnlm-fast"
    if to_format not in MODEL_FORMATS:
        raise ConfigError(f"unknown model format {to_format!r} (known: {', '.join(MODEL_FORMATS)})")
    if to_format != "rnnlm04b" and (binary or fold_biases):
        raise ConfigError("--binary and --fold-biases are for rnnlm-0.4b output (--to rnnlm04b)")
    model = RNNLM.load(source) if from_format == "rnnlm-fast" else load_rnnlm04b(source)
    if to_format == "rnnlm-fast":
        model.save(output)
    else:
        save_rnnlm04b(model, output, binary=binary, fold_biases=fold_biases)
    return model, from_format, to_format


def add_convert_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand to ``sub``."""
    p = sub.add_parser("convert", help="convert a model between rnnlm-fast's format and rnnlm-0.4b's",
                       description="Convert a model file between rnnlm-fast's format and rnnlm-0.4b's "
                                   "(text or -binary), either way. The input's format is detected; the "
                                   "output's is the other one unless --to says otherwise.")
    p.add_argument("model", help="the model file to read")
    p.add_argument("--output", required=True, help="the model file to write")
    p.add_argument("--from", dest="from_format", choices=("auto",) + MODEL_FORMATS, default="auto",
                   help="the input's format (default: detected from the file)")
    p.add_argument("--to", dest="to_format", choices=MODEL_FORMATS, default=None,
                   help="the output's format (default: the other one; rnnlm04b with --binary or "
                        "--fold-biases)")
    p.add_argument("--binary", action="store_true",
                   help="write rnnlm-0.4b's -binary format instead of its text")
    p.add_argument("--fold-biases", action="store_true",
                   help="rnnlm-0.4b has no biases: carry non-zero ones in one extra hidden unit held at 1.0 "
                        "(the scores stay the same up to float rounding)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.set_defaults(func=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    out = check_output(args.output, overwrite=args.overwrite)
    if out.exists() and out.resolve() == Path(args.model).resolve():
        raise ConfigError(f"--output '{out}' is the input model")
    model, src, dst = convert_model(args.model, out, from_format=args.from_format, to_format=args.to_format,
                                    binary=args.binary, fold_biases=args.fold_biases)
    kind = {"rnnlm-fast": "rnnlm-fast", "rnnlm04b": "rnnlm-0.4b " + ("binary" if args.binary else "text")}
    folded = dst == "rnnlm04b" and args.fold_biases and any(
        np.any(model.weights()[name] != 0) for name in ("hidden_bias", "class_b", "word_b"))
    print(f"{args.model} ({'rnnlm-0.4b' if src == 'rnnlm04b' else src}) -> {out} ({kind[dst]}): "
          f"{len(model.vocab)} words, {model.n_classes} classes, {model.hidden} hidden units"
          + (" (+1 holding the folded biases)" if folded else "")
          + (f", direct connections {model.direct} of order {model.direct_order}" if model.direct else ""))
    return 0
