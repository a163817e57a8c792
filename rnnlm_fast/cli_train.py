"""The command line's training commands: ``train``, ``demo`` and ``vocab``.

``train`` parses into one :class:`~rnnlm_fast.runs.TrainRequest` (the checkpoint's default
``<output>.ckpt``, the thread count's rule) and hands it to rnnlm_fast/runs.py, which checks
its paths, trains (on this process or as one of an MPI job) and writes the results.
"""

from __future__ import annotations

import argparse
import logging
import time
from importlib import resources
from pathlib import Path

from . import __version__, options, runs
from ._files import check_output
from ._progress import wanted as progress_wanted
from .model import RNNLM
from .options_cli import add_arguments
from .training import EpochRecord, resolve_threads
from .vocab import Vocabulary

log = logging.getLogger("rnnlm_fast")


def print_epoch(r: EpochRecord) -> None:
    """One line per epoch on stdout."""
    print(f"epoch {r.epoch:3d}  lr {r.lr:.5f}  train ppl {r.train_ppl:9.2f}  valid ppl {r.valid_ppl:9.2f}  "
          f"{r.words_per_sec:10.0f} words/s  {r.seconds:6.1f} s"
          f"{'' if r.kept else '  (restored previous weights)'}",
          flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    return runs.run(train_request(args), report=print_epoch)


def train_request(args: argparse.Namespace) -> runs.TrainRequest:
    """The train command's request: its paths with their defaults, its options; a thread count
    not given keeps a resumed checkpoint's (None)."""
    output = Path(args.output)
    threads = args.threads if not args.resume or args.threads_given else None
    return runs.TrainRequest(
        train=args.train, valid=args.valid, output=output,
        checkpoint=None if args.no_checkpoint else Path(args.checkpoint or f"{output}.ckpt"),
        history=Path(args.history_json) if args.history_json else None,
        overwrite=args.overwrite, resume=args.resume, explicit=getattr(args, "explicit_options", {}),
        vocab_file=args.vocab, reclass=args.classes_given,
        vocabulary={n: getattr(args, n) for n in options.VOCABULARY},
        model={n: getattr(args, n) for n in options.MODEL},
        training={**{n: getattr(args, n) for n in options.TRAINING}, "threads": threads},
        distributed=args.distributed, progress=progress_wanted(args.quiet))


def cmd_demo(args: argparse.Namespace) -> int:
    data = resources.files("rnnlm_fast") / "data"
    train, valid = str(data / "books.train.txt.gz"), str(data / "books.valid.txt.gz")
    print(f"rnnlm-fast {__version__} demo: training on {Path(train).name} (public-domain books), "
          f"validating on {Path(valid).name}")
    if args.output:
        check_output(args.output, overwrite=args.overwrite)
    start = time.perf_counter()
    vocab = Vocabulary.from_corpus(train, min_count=args.min_count, classes=args.classes)
    print(f"vocabulary: {len(vocab)} words ({vocab.corpus_tokens} tokens), {vocab.n_classes} classes")
    model = RNNLM(vocab, **{name: getattr(args, name) for name in options.MODEL})
    log.info("model: %s, %d parameters", model, model.n_parameters())
    model.train(train, valid, progress=progress_wanted(args.quiet), callback=print_epoch,
                **{name: getattr(args, name) for name in options.TRAINING})
    res = model.perplexity(valid, threads=args.threads)
    best = max((r for r in model.history if r.kept), key=lambda r: r.words_per_sec, default=None)
    print(f"validation perplexity {res.ppl:.2f}; training {best.words_per_sec if best else float('nan'):.0f} "
          f"words/s on {resolve_threads(args.threads)} thread(s); scoring {res.words_per_sec:.0f} words/s; "
          f"total {time.perf_counter() - start:.1f} s")
    if args.output:
        model.save(args.output)
        print(f"model written to {args.output}")
    return 0


def cmd_vocab(args: argparse.Namespace) -> int:
    out = check_output(args.output, overwrite=args.overwrite)
    vocab = Vocabulary.from_corpus(args.train, progress=progress_wanted(args.quiet),
                                   **{name: getattr(args, name) for name in options.VOCABULARY})
    vocab.save(out)
    print(f"{len(vocab)} words, {vocab.n_classes} classes, from {vocab.corpus_tokens} tokens "
          f"({vocab.corpus_distinct} distinct) -> {out}")
    return 0


def _add_vocab_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("vocabulary")
    add_arguments(g, options.VOCABULARY)
    # None: not given (a vocabulary file's classes then stay); main() fills in the default
    g.set_defaults(classes=None)


def _add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and training")
    add_arguments(g, options.MODEL + options.TRAINING)
    # None: not given (a checkpoint's count then stays); main() fills in the default
    g.set_defaults(threads=None)


def add_training_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo``, ``vocab`` and ``train`` subcommands to ``sub``."""
    p = sub.add_parser("demo", help="train on the small book corpus shipped with the package")
    _add_train_options(p)
    add_arguments(p, ["min_count", "classes"])
    p.add_argument("--output", help="also save the model here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    # a quick run, on every core
    p.set_defaults(func=cmd_demo, max_epochs=8, min_count=2, **options.BATCH_DEFAULTS)

    p = sub.add_parser("vocab", help="count words and write a vocabulary file")
    p.add_argument("--train", nargs="+", required=True, help="text files (.gz allowed)")
    p.add_argument("--output", required=True)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    _add_vocab_options(p)
    p.set_defaults(func=cmd_vocab)

    p = sub.add_parser("train", help="train a model")
    p.add_argument("--train", required=True, help="training text (.gz allowed)")
    p.add_argument("--valid", required=True, help="validation text driving the learning-rate schedule")
    p.add_argument("--output", required=True, help="model file to write")
    p.add_argument("--vocab", help="use this vocabulary file instead of counting --train")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --output and --history-json (and start over despite an existing "
                        "checkpoint)")
    p.add_argument("--checkpoint", help="checkpoint written after every epoch (default: <output>.ckpt); "
                   "removed once --output is written")
    p.add_argument("--no-checkpoint", action="store_true", help="write no checkpoint")
    p.add_argument("--resume", action="store_true",
                   help="continue the run of the checkpoint (its model, vocabulary and options; same data)")
    p.add_argument("--history-json",
                   help="write the per-epoch history here (a JSON list, one object per epoch)")
    p.add_argument("--distributed", action="store_true",
                   help="one process of an MPI job (mpiexec -n N rnnlm-fast train ... --distributed): "
                        "train one model together, rank 0 writing (needs rnnlm-fast[mpi])")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_vocab_options(p)
    _add_train_options(p)
    p.set_defaults(func=cmd_train)
