"""Plots (the ``plot`` extra, matplotlib): training curves (``rnnlm-fast plot``) and WER against
the LM weight (``rnnlm-fast rescore --plot``).

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no display, no global
backend switch), so plotting works headless and inside any program. Sizes are in pixels.

A training history is read from any file the tool writes: ``train --history-json`` (a JSON list,
one object per epoch), a model file or a checkpoint (the history in its header), or a JSON object
with a ``history`` list.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._files import PathLike, check_output, require_file
from .errors import ConfigError, CorpusError
from .model_file import MAGIC, read_header

__all__ = ["INSTALL_HINT", "add_plot_parser", "plot_histories", "plot_wer_curve", "read_history",
           "require_matplotlib"]

INSTALL_HINT = 'pip install "rnnlm-fast[plot]"'
DPI = 100
_FIELDS = ("epoch", "lr", "train_ppl", "valid_ppl")


def require_matplotlib():
    """The matplotlib module; ConfigError saying how to install it when it is missing."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise ConfigError(f"plots need the matplotlib package, an optional extra: {INSTALL_HINT}") from None
    return matplotlib


def read_history(path: PathLike) -> list[dict[str, Any]]:
    """The per-epoch records of a training run, from any history file the tool writes (module
    docstring). Raises MissingFileError, ModelFormatError (a broken model file), CorpusError
    (anything else that holds no history), naming the file."""
    p = require_file(path, "history file")
    with open(p, "rb") as f:
        start = f.read(len(MAGIC))
    if start == MAGIC:
        records = read_header(p).get("history")
    else:
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CorpusError(f"{p}: not a training history (a JSON list of epochs from "
                              f"train --history-json, or a model or checkpoint file): {e}") from None
        records = data.get("history") if isinstance(data, dict) else data
    if not isinstance(records, list) or not records:
        raise CorpusError(f"{p}: holds no training epochs")
    for i, r in enumerate(records):
        if not isinstance(r, dict) or any(not isinstance(r.get(k), (int, float)) for k in _FIELDS):
            raise CorpusError(f"{p}: epoch record {i + 1} lacks one of {', '.join(_FIELDS)} (numbers)")
    return records


def _figure(width: int, height: int):
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or not 100 <= value <= 10000:
            raise ConfigError(f"the plot's {name} must be a number of pixels in 100..10000, not {value!r}")
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, output: PathLike) -> None:
    fig.savefig(output, dpi=DPI, format="png")


def plot_histories(histories: Sequence[Sequence[dict]], labels: Sequence[str], output: PathLike, *,
                   width: int = 900, height: int = 650) -> None:
    """Train and valid perplexity (log scale) and the learning rate by epoch, one colour per run
    (valid solid, train dashed); an epoch whose weights were restored is marked with an x."""
    fig = _figure(width, height)
    from matplotlib.ticker import LogFormatter

    ppl, lr = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    colours = [f"C{i % 10}" for i in range(len(histories))]
    for records, label, colour in zip(histories, labels, colours):
        epochs = [r["epoch"] for r in records]
        ppl.plot(epochs, [r["valid_ppl"] for r in records], "-o", color=colour, markersize=3,
                 label=f"{label} valid")
        ppl.plot(epochs, [r["train_ppl"] for r in records], "--", color=colour, label=f"{label} train")
        restored = [r for r in records if r.get("kept") is False]
        if restored:
            ppl.plot([r["epoch"] for r in restored], [r["valid_ppl"] for r in restored], "x", color=colour,
                     markersize=9, label=f"{label} restored")
        lr.plot(epochs, [r["lr"] for r in records], "-o", drawstyle="steps-post", color=colour, markersize=3,
                label=label)
    ppl.set_yscale("log")
    lr.set_yscale("log")
    for axis in (ppl.yaxis, lr.yaxis):  # plain numbers (300, 0.05), not 3 x 10^2
        axis.set_major_formatter(LogFormatter())
        axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ppl.set_ylabel("perplexity")
    ppl.grid(True, which="both", alpha=0.3)
    ppl.legend(fontsize="small")
    lr.set_ylabel("learning rate")
    lr.set_xlabel("epoch")
    lr.grid(True, which="both", alpha=0.3)
    fig.suptitle("training history")
    fig.tight_layout()
    _save(fig, output)


def plot_wer_curve(lams: Sequence[float], wers: Sequence[float], tuned_lam: float, output: PathLike, *,
                   title: str = "WER on the tuning set", width: int = 800, height: int = 500) -> None:
    """WER (percent) against the LM weight, the tuned weight marked."""
    fig = _figure(width, height)
    ax = fig.subplots()
    ax.plot(lams, wers, "-o", markersize=3)
    ax.axvline(tuned_lam, color="C3", linestyle="--", label=f"tuned lambda {tuned_lam:.3g}")
    ax.set_xlabel("LM weight (lambda)")
    ax.set_ylabel("WER (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _save(fig, output)


def cmd_plot(args: argparse.Namespace) -> int:
    require_matplotlib()
    out = check_output(args.output, overwrite=args.overwrite)
    labels = args.labels.split(",") if args.labels else [Path(p).stem for p in args.history]
    if len(labels) != len(args.history):
        raise ConfigError(f"--labels gives {len(labels)} names for {len(args.history)} history files")
    histories = [read_history(p) for p in args.history]
    plot_histories(histories, labels, out, width=args.width, height=args.height)
    print(f"{sum(len(h) for h in histories)} epochs of {len(histories)} run(s) -> {out}")
    return 0


def add_plot_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``plot`` subcommand to ``sub``."""
    p = sub.add_parser("plot", help="plot training histories: perplexity and learning rate by epoch "
                                    "(needs the plot extra)",
                       description="Draw train and valid perplexity and the learning rate by epoch, several "
                                   "runs overlaid, into a PNG. A history is a train --history-json file, a "
                                   f"model file or a checkpoint. Needs matplotlib: {INSTALL_HINT}")
    p.add_argument("history", nargs="+",
                   help="history files (train --history-json), model files or checkpoints")
    p.add_argument("-o", "--output", required=True, help="the PNG to write")
    p.add_argument("--width", type=int, default=900, help="in pixels (default 900)")
    p.add_argument("--height", type=int, default=650, help="in pixels (default 650)")
    p.add_argument("--labels", help="comma-separated run names (default: the file names)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.set_defaults(func=cmd_plot)
