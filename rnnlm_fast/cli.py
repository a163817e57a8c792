"""The ``rnnlm-fast`` command line: a thin layer over the Python API.

Subcommands: demo, vocab, train (rnnlm_fast/cli_train.py), eval, score, generate
(rnnlm_fast/cli_eval.py), options, rescore (rnnlm_fast/nbest/cli.py), convert, plot. Option names
match the API's keyword arguments (``--bptt-block`` is ``bptt_block``). Errors print one line
naming the file and line, and exit with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from . import __version__, options
from .cli_eval import add_scoring_parsers
from .cli_train import add_training_parsers
from .convert import add_convert_parser
from .errors import RnnlmError
from .nbest.cli import add_rescore_parser
from .ngram import require_kenlm
from .options import DEFAULTS
from .options_cli import table
from .plot import add_plot_parser

# The options that define a training run (all but the thread count). With --resume the
# checkpoint's values hold, so one given with another value would be silently ignored: it is
# refused instead (rnnlm_fast.runs.check_resume_options).
RUN_OPTIONS = ("vocab",) + tuple(n for n in options.VOCABULARY + options.MODEL + options.TRAINING
                                 if n != "threads")


def cmd_options(args: argparse.Namespace) -> int:
    sys.stdout.write(table())
    return 0


def _explicit_options(argv: Sequence[str], dests: Sequence[str]) -> dict:
    """The options among ``dests`` spelled on the command line, in any form (``--hidden 2``,
    ``--hidden=2``, an abbreviation), with their values: a second parse in which their
    defaults are a marker that no spelling can produce."""
    parser = build_parser()
    unset = object()
    for command_parser in parser.commands.values():
        command_parser.set_defaults(**{dest: unset for dest in dests})
    args = parser.parse_args(argv)
    return {dest: getattr(args, dest) for dest in dests if getattr(args, dest, unset) is not unset}


VERBOSE_HELP = "log progress details (before or after the subcommand)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnlm-fast", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"rnnlm-fast {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    add_training_parsers(sub)  # demo, vocab, train
    add_scoring_parsers(sub)  # eval, score, generate
    p = sub.add_parser("options", help="print every option: default, flag, rnnlm-0.4b name and rule")
    p.set_defaults(func=cmd_options)
    add_rescore_parser(sub)  # n-best rescoring lives in its own package
    add_convert_parser(sub)  # model files between rnnlm-fast's format and rnnlm-0.4b's
    add_plot_parser(sub)  # rnnlm_fast/plot.py
    for command_parser in sub.choices.values():
        # -v after the subcommand too; SUPPRESS: not given there, the main parser's value stays
        command_parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                    help=VERBOSE_HELP)
    parser.commands = sub.choices  # name -> subcommand parser
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    # Options whose absence matters (a vocabulary file's or a checkpoint's value then wins)
    # default to None; any spelling (--threads 2, --threads=2, an abbreviation) counts as given.
    for name in ("classes", "threads"):
        setattr(args, f"{name}_given", getattr(args, name, None) is not None)
        if getattr(args, name, DEFAULTS[name]) is None:
            setattr(args, name, DEFAULTS[name])
    if args.command == "train" and args.resume:
        args.explicit_options = _explicit_options(argv, RUN_OPTIONS)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    try:
        if args.command == "rescore" and (getattr(args, "refs", None) or getattr(args, "tune_refs", None)):
            from .nbest.wer import require_jiwer

            require_jiwer()  # word error rates need the rescore extra: say so before any scoring
        if getattr(args, "ngram", None):
            require_kenlm()  # the kenlm extra, likewise
        return args.func(args)
    except RnnlmError as e:
        print(f"rnnlm-fast: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a full disk while writing; the message names the file
        print(f"rnnlm-fast: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlm-fast: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
