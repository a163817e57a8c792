"""The options table on the command line: every option's flag, parsed as the table says
(rnnlm_fast/options.py), and the table as ``rnnlm-fast options`` prints it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .deprecation import deprecated
from .options import BATCH_DEFAULTS, OPTIONS

__all__ = ["add_arguments", "table"]


class _Deprecated(argparse.Action):
    """An old flag of an option still accepted: a :func:`deprecated` notice, the value stored under
    the new name."""

    def __call__(self, parser, namespace, values, option_string=None):
        deprecated(f"{parser.prog}: {option_string} is deprecated; use {self.metavar}", stacklevel=2,
                   typed=True)
        setattr(namespace, self.dest, values)


def add_arguments(g: argparse._ActionsContainer, names: Sequence[str], batch_command: bool = False) -> None:
    """Add the command-line flags of these options to an argparse parser or group (``batch_command``: with
    the batch commands' defaults, BATCH_DEFAULTS). Values are parsed there and checked by the API,
    so every rule has one message; an option's deprecated names are flags that warn."""
    for name in names:
        o = OPTIONS[name]
        if o.type is bool:
            g.add_argument(o.flag, dest=name, action="store_true",
                           help=o.help + (f" (rnnlm-0.4b: {o.rnnlm})" if o.rnnlm else ""))
            continue
        default = BATCH_DEFAULTS[name] if batch_command and name in BATCH_DEFAULTS else o.default
        shown = o.default_text or default
        helptext = f"{o.help} (default {shown}" + (f"; rnnlm-0.4b: {o.rnnlm})" if o.rnnlm else ")")
        kind = o.parse or o.type
        kw = {"dest": name, "type": kind, "default": default, "help": helptext.replace("%", "%%")}
        if o.choices:
            kw["choices"] = o.choices
        g.add_argument(o.flag, **kw)
        for flag, value in o.shortcuts:
            g.add_argument(flag, dest=name, action="store_const", const=value,
                           help=f"short for {o.flag} {value}")
        for old in o.deprecated:
            g.add_argument(f"--{old.replace('_', '-')}", dest=name, type=kind, action=_Deprecated,
                           metavar=o.flag, help=argparse.SUPPRESS,
                           **({"choices": o.choices} if o.choices else {}))


def table() -> str:
    """The table as text, one option a line (``rnnlm-fast options`` prints it)."""
    lines = [f"{'option':16} {'group':10} {'type':5} {'default':>12}  {'flag':18} {'rnnlm-0.4b':12} rule"]
    for o in OPTIONS.values():
        lines.append(f"{o.name:16} {o.group:10} {o.type.__name__:5} {o.default!r:>12}  {o.flag or '':18} "
                     f"{o.rnnlm or '':12} must be {o.rule()}")
    return "\n".join(lines) + "\n"
