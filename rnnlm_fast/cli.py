"""The ``rnnlm-fast`` command line: a thin layer over the Python API.

Subcommands: demo, vocab, train, eval, score, options, generate, rescore, convert, plot. Option names match the API's
keyword arguments (``--bptt-block`` is ``bptt_block``). Errors print one line naming the
file and line, and exit with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from . import __version__, options
from .convert import add_convert_parser
from .distributed import launch
from .encoding import case_mapping, oov_warnings_to_stderr, read_lines, split_keys, split_words
from .errors import ConfigError, CorpusError, MissingFileError, RnnlmError
from .model import RNNLM
from .model_file import read_header
from .nbest.cli import add_rescore_parser
from .ngram import require_kenlm
from .ngram_cli import add_ngram_arguments, load_eval_ngram, report_eval_ngram
from .options import DEFAULTS, OPTIONS, add_arguments
from .plot import add_plot_parser
from .training import resolve_threads
from .vocab import Vocabulary

log = logging.getLogger("rnnlm_fast")


def _add_vocab_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("vocabulary")
    add_arguments(g, options.VOCABULARY)
    # None: not given (a vocabulary file's classes then stay); main() fills in the default
    g.set_defaults(classes=None)


def _add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and training")
    add_arguments(g, [n for n in options.MODEL + options.TRAINING])
    g.add_argument("--backward", dest="direction", action="store_const", const="backward",
                   help="short for --direction backward: read each sentence from its last word to its first "
                        "(a rescoring partner for a forward model)")
    # None: not given (a checkpoint's count then stays); main() fills in the default
    g.set_defaults(threads=None)


def _quiet(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "quiet", False)) or not sys.stderr.isatty()


def _train_and_report(args: argparse.Namespace, train: str, valid: str, vocab: Optional[Vocabulary],
                      checkpoint: Optional[Path] = None, resume: bool = False) -> RNNLM:
    """Train a new model (with checkpoints when ``checkpoint``), or resume from ``checkpoint``."""
    if not resume:
        model = RNNLM(vocab, **{name: getattr(args, name) for name in options.MODEL})
        log.info("model: %s, %d parameters", model, model.n_parameters())

    def report(r) -> None:
        print(f"epoch {r.epoch:3d}  lr {r.lr:.5f}  train ppl {r.train_ppl:9.2f}  valid ppl {r.valid_ppl:9.2f}  "
              f"{r.words_per_sec:10.0f} words/s  {r.seconds:6.1f} s{'' if r.kept else '  (restored previous weights)'}",
              flush=True)

    comm = getattr(args, "comm", None)  # an MPI communicator: rnnlm-fast train --distributed
    if resume:
        threads = args.threads if getattr(args, "threads_given", False) else None
        model = RNNLM.resume(checkpoint, train, valid, threads=threads, progress=not _quiet(args), callback=report,
                             comm=comm)
        log.info("resumed %s from %s after %d epoch records", model, checkpoint, len(model.history))
        return model
    model.train(train, valid, progress=not _quiet(args), callback=report, checkpoint=checkpoint, comm=comm,
                **{name: getattr(args, name) for name in options.TRAINING})
    return model


def cmd_demo(args: argparse.Namespace) -> int:
    data = resources.files("rnnlm_fast") / "data"
    train, valid = str(data / "books.train.txt.gz"), str(data / "books.valid.txt.gz")
    print(f"rnnlm-fast {__version__} demo: training on {Path(train).name} (public-domain books), "
          f"validating on {Path(valid).name}")
    if args.output:
        _check_new_output(args.output, args.overwrite)
    start = time.perf_counter()
    vocab = Vocabulary.from_corpus(train, min_count=args.min_count, classes=args.classes)
    print(f"vocabulary: {len(vocab)} words ({vocab.corpus_tokens} tokens), {vocab.n_classes} classes")
    model = _train_and_report(args, train, valid, vocab)
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
    out = _check_new_output(args.output, args.overwrite)
    vocab = Vocabulary.from_corpus(args.train, min_count=args.min_count, max_size=args.max_size,
                                   classes=args.classes, class_method=args.class_method,
                                   max_line_bytes=args.max_line_bytes, progress=not _quiet(args))
    vocab.save(out)
    print(f"{len(vocab)} words, {vocab.n_classes} classes, from {vocab.corpus_tokens} tokens "
          f"({vocab.corpus_distinct} distinct) -> {out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if getattr(args, "comm", None) is None and (args.distributed or launch.launched()):
        return launch.train_command(args, cmd_train)  # this process's part of an MPI job
    out = _check_output(args.output)
    ckpt = None if args.no_checkpoint else _check_output(args.checkpoint or f"{out}.ckpt")
    if ckpt is not None and ckpt.resolve() == out.resolve():
        raise ConfigError(f"--checkpoint and --output are the same file '{out}'")
    if args.resume and ckpt is None:
        raise ConfigError("--resume continues from the checkpoint; it cannot be combined with --no-checkpoint")
    if out.exists() and not args.overwrite:
        raise ConfigError(f"'{out}' exists; pass --overwrite to replace it")
    if args.history_json:
        # a resumed run rewrites the history its interrupted part began, now complete
        history = _check_new_output(args.history_json, args.overwrite or args.resume, "--history-json")
        if history.resolve() in (out.resolve(), None if ckpt is None else ckpt.resolve()):
            raise ConfigError(f"--history-json '{history}' is the same file as the model or its checkpoint")
    if args.resume and not ckpt.exists():
        raise MissingFileError(f"--resume: checkpoint '{ckpt}' does not exist (nothing to continue)")
    if ckpt is not None and ckpt.exists() and not args.resume and not args.overwrite:
        raise ConfigError(f"checkpoint '{ckpt}' exists: pass --resume to continue that run, "
                          "or --overwrite to start over")
    start = time.perf_counter()
    if args.resume:  # model, vocabulary and options come from the checkpoint
        _check_resume_options(ckpt, getattr(args, "explicit_options", {}))
        try:
            model = _train_and_report(args, args.train, args.valid, None, checkpoint=ckpt, resume=True)
        except KeyboardInterrupt:
            print(f"interrupted: rerun with --resume to continue from '{ckpt}'", file=sys.stderr)
            return 130
        return _finish_training(args, model, out, ckpt, start)
    if args.vocab:
        vocab = Vocabulary.load(args.vocab)
        if args.classes != vocab.n_classes and args.classes_given:
            vocab = vocab.with_classes(args.classes, args.class_method)
    else:
        vocab = Vocabulary.from_corpus(args.train, min_count=args.min_count, max_size=args.max_size,
                                       classes=args.classes, class_method=args.class_method,
                                       max_line_bytes=args.max_line_bytes, progress=not _quiet(args))
    start = time.perf_counter()
    before = _file_stamp(ckpt)
    try:
        model = _train_and_report(args, args.train, args.valid, vocab, checkpoint=ckpt)
    except KeyboardInterrupt:
        # The run writes its checkpoint once the data is read: stopped before that (or with
        # no checkpoint), there is nothing to resume.
        written = ckpt is not None and _file_stamp(ckpt) not in (None, before)
        hint = f"rerun with --resume to continue from '{ckpt}'" if written else "rerun to train"
        print(f"interrupted: the model with the last good weights is not saved over anything; {hint}",
              file=sys.stderr)
        return 130
    return _finish_training(args, model, out, ckpt, start)


# The options that define a training run (all but the thread count). With --resume the
# checkpoint's values hold, so one given with another value would be silently ignored: it is
# refused instead.
RUN_OPTIONS = ("vocab",) + tuple(n for n in options.VOCABULARY + options.MODEL + options.TRAINING if n != "threads")


def _check_resume_options(ckpt: Path, explicit: dict) -> None:
    """Refuse run options given with --resume that differ from the checkpoint's (or that it
    cannot honour: the vocabulary comes from the checkpoint). ``explicit``: dest -> value."""
    header = read_header(ckpt)
    stored = {**{o.name: o.default for o in OPTIONS.values() if o.older_files_lack},  # older files lack them
              **dict(header.get("config") or {}),
              **options.from_file((header.get("checkpoint") or {}).get("options") or {})}
    for dest, value in explicit.items():
        flag = OPTIONS[dest].flag if dest in OPTIONS else "--" + dest.replace("_", "-")
        if dest not in stored:
            raise ConfigError(f"{flag} cannot be given with --resume: the run continues with the vocabulary and "
                              f"options of checkpoint '{ckpt}' (drop {flag}, or start over with --overwrite)")
        if stored[dest] != value:
            if isinstance(value, bool):
                raise ConfigError(f"{flag} given, but the run of checkpoint '{ckpt}' was without it: --resume "
                                  f"continues that run with its own options (drop {flag}, or start over with "
                                  "--overwrite)")
            raise ConfigError(f"{flag} {value} differs from checkpoint '{ckpt}' ({stored[dest]}): --resume "
                              f"continues that run with its own options (drop {flag}, or start over with --overwrite)")


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


def _file_stamp(path: Optional[Path]) -> Optional[tuple[int, int, int]]:
    """What tells one version of a file from the next (an atomic rename makes a new inode)."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return None if st is None else (st.st_ino, st.st_mtime_ns, st.st_size)


def _finish_training(args: argparse.Namespace, model: RNNLM, out: Path, ckpt: Optional[Path], start: float) -> int:
    """Write the model, then remove the checkpoint it supersedes."""
    model.save(out)
    if ckpt is not None:
        ckpt.unlink(missing_ok=True)
    print(f"trained {len(model.history)} epochs in {time.perf_counter() - start:.1f} s -> {out}")
    if args.history_json:
        Path(args.history_json).write_text(json.dumps([vars(r) for r in model.history], indent=1))
    return 0


def _load(args: argparse.Namespace) -> RNNLM:
    vocab = Vocabulary.load(args.vocab) if getattr(args, "vocab", None) else None
    return RNNLM.load(args.model, vocab=vocab)


def cmd_eval(args: argparse.Namespace) -> int:
    model = _load(args)
    if args.lm_prob and model.backward:
        # P(w | following words) mixed word by word with P(w | preceding words) is no distribution
        raise ConfigError(f"--lm-prob interpolates word by word with a left-to-right LM; "
                          f"'{args.model}' is a backward model")
    ngram = load_eval_ngram(args, model)  # None without --ngram
    with oov_warnings_to_stderr():
        res = model.perplexity(args.text, independent=args.independent, threads=args.threads,
                               oov_penalty=args.oov_penalty, dynamic=args.dynamic,
                               per_word=bool(args.per_word or args.lm_prob or ngram), progress=not _quiet(args),
                               case=args.case, max_oov_rate=args.max_oov_rate)
    per_word = res.word_log10
    if args.per_word:  # the input words, as the text has them (unknown ones too)
        words = [w for line in _read_lines(args.text) for w in (*split_words(line), "</s>")]
        if len(words) != len(per_word):
            raise CorpusError(f"{args.text}: {len(words)} words read back for {len(per_word)} scored positions")
        sys.stdout.write("".join(f"{w}\t{p:.6f}\n" for w, p in zip(words, per_word.tolist())))
    print(f"file {args.text}: {res.sentences} sentences, {res.words} words (with </s>), {res.oov} OOV")
    print(f"log10 prob {res.log10_prob:.2f}  entropy {res.entropy:.4f} bits  "
          f"PPL {res.ppl:.2f}  PPL with OOV {res.ppl_with_oov:.2f}  ({res.words_per_sec:.0f} words/s)")
    if res.oov:
        scored_as = "<unk>" if model.vocab.unk_id >= 0 else f"--oov-penalty {args.oov_penalty:g}"
        print(f"log10 prob with OOV {res.log10_prob_with_oov:.2f}  (the {res.oov} unknown words scored as "
              f"{scored_as}; the per-word column sums to this; 'log10 prob' leaves them out)")
    if args.lm_prob:
        if args.case == "keep":
            enc = model.encode_file(args.text)
        else:
            fix = case_mapping(args.case)
            enc = model.encode_sentences([fix(line) for line in _read_lines(args.text)])
        _report_interpolation(model, enc.in_text_order(enc.ids), per_word, args)
    if ngram is not None:
        report_eval_ngram(model, ngram, args, res)
    return 0


def _read_word_probs(path: str, expected: int) -> np.ndarray:
    """rnnlm-0.4b's -lm-prob file: the first number of each line is a word's probability."""
    values = []
    for lineno, line in enumerate(_read_lines(path), 1):
        fields = line.split()
        if not fields:
            raise CorpusError(f"{path}:{lineno}: empty line, expected a probability")
        try:
            p = float(fields[0])
        except ValueError:
            raise CorpusError(f"{path}:{lineno}: expected a probability, found {fields[0][:40]!r}") from None
        if not 0.0 <= p <= 1.0:
            raise CorpusError(f"{path}:{lineno}: probability {p} outside [0, 1]")
        values.append(p)
    if len(values) != expected:
        raise CorpusError(f"{path}: {len(values)} probabilities for {expected} words (every word and </s> needs one)")
    return np.array(values)


def _report_interpolation(model: RNNLM, ids: np.ndarray, per_word: np.ndarray, args: argparse.Namespace) -> None:
    """rnnlm-0.4b's -lm-prob/-lambda: per-word linear interpolation with another LM, given the
    RNN's per-word log10 probabilities of the text and its word ids (-1 = unknown)."""
    from .nbest import interpolate_word_probs

    if not 0.0 <= args.weight <= 1.0:
        raise ConfigError(f"--lambda must be in [0, 1], not {args.weight}")
    rnn = per_word.copy()
    if model.vocab.unk_id < 0:
        rnn[ids < 0] = -np.inf  # unknown to the RNN: the other LM's share only
    other = _read_word_probs(args.lm_prob, len(rnn))
    combined = float(interpolate_word_probs([rnn], [other], args.weight)[0])
    n = len(rnn)
    with np.errstate(divide="ignore"):
        other_log10 = float(np.log10(other).sum())
    print(f"PPL other {10 ** (-other_log10 / n):.2f}  PPL combine ({args.weight:g} * rnn + "
          f"{1 - args.weight:g} * other) {10 ** (-combined / n):.2f}")


def _read_lines(path: str) -> list[str]:
    """The lines of a UTF-8 file ('-' = stdin), split at newline bytes only, as the corpus reader does
    (``str.splitlines`` would also split at form feeds, U+2028 and the like, giving more scores than
    input lines); NUL bytes and invalid UTF-8 are refused with file:line, as eval's reader refuses them."""
    return read_lines(path)


def _check_output(path: str) -> Path:
    """Fail before any work when ``path`` cannot be written (its directory is missing)."""
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise MissingFileError(f"cannot write '{out}': directory '{parent}' does not exist")
    if out.is_dir():
        raise ConfigError(f"cannot write '{out}': it is a directory")
    return out


def _check_new_output(path: str, overwrite: bool, what: str = "") -> Path:
    """:func:`_check_output`, and refuse an existing file unless ``overwrite``."""
    out = _check_output(path)
    if out.exists() and not overwrite:
        raise ConfigError(f"{what + ' ' if what else ''}'{out}' exists; pass --overwrite to replace it")
    return out


def cmd_score(args: argparse.Namespace) -> int:
    model = _load(args)
    lines = _read_lines(args.text)
    if args.keys:  # 'utt1 the cat sat': the first field names the line, the rest is the sentence
        keys, lines = split_keys(lines, "<stdin>" if args.text == "-" else args.text)
    with oov_warnings_to_stderr():
        scores = model.score(lines, independent=not args.carry_state, oov=args.oov, oov_penalty=args.oov_penalty,
                             threads=args.threads, case=args.case, max_oov_rate=args.max_oov_rate)
    prefixes = [f"{k}\t" for k in keys] if args.keys else [""] * len(lines)
    sys.stdout.write("".join(f"{k}{s:.6f}\n" for k, s in zip(prefixes, scores.tolist())))
    return 0


def cmd_options(args: argparse.Namespace) -> int:
    sys.stdout.write(options.table())
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    model = _load(args)
    prefix = f"{args.prefix} " if args.prefix else ""
    for sentence in model.generate(args.n, prefix=args.prefix, max_words=args.max_words,
                                   temperature=args.temperature, seed=args.seed):
        print(f"{sentence} {args.prefix}".strip() if model.backward else prefix + sentence)
    return 0


VERBOSE_HELP = "log progress details (before or after the subcommand)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnlm-fast", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"rnnlm-fast {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train on the small book corpus shipped with the package")
    _add_train_options(p)
    add_arguments(p, ["min_count", "classes"])
    p.add_argument("--output", help="also save the model here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo, max_epochs=8, threads=0, min_count=2)  # a quick run on all cores

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
    p.add_argument("--history-json", help="write the per-epoch history here (a JSON list, one object per epoch)")
    p.add_argument("--distributed", action="store_true", help="one process of an MPI job (mpiexec -n N rnnlm-fast "
                   "train ... --distributed): train one model together, rank 0 writing (needs rnnlm-fast[mpi])")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_vocab_options(p)
    _add_train_options(p)
    p.set_defaults(func=cmd_train)

    for name, helptext, func in (("eval", "perplexity of a text", cmd_eval),
                                 ("score", "one log10 probability per input line, nothing else", cmd_score)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--model", required=True)
        p.add_argument("--text", required=(name == "eval"), default="-", help="text file ('-' = stdin for score)")
        p.add_argument("--vocab", help="check the model against this vocabulary file")
        add_arguments(p, ["threads", "oov_penalty", "case", "max_oov_rate"])
        p.add_argument("--quiet", action="store_true")
        if name == "eval":
            p.add_argument("--per-word", action="store_true", help="also print word<TAB>log10 for every word")
            p.add_argument("--independent", action="store_true", help="reset the state at each sentence")
            add_arguments(p, ["dynamic"])
            p.add_argument("--lm-prob", help="per-word probabilities of another LM, one per line and word "
                                             "(</s> included), to interpolate with (rnnlm-0.4b's -lm-prob)")
            p.add_argument("--lambda", dest="weight", type=float, default=0.5,
                           help="weight of the RNN in the interpolation (default 0.5)")
            add_ngram_arguments(p)
        else:
            add_arguments(p, ["oov"])
            p.add_argument("--carry-state", action="store_true",
                           help="carry the hidden state across lines (rnnlm-0.4b); default resets per line")
            p.add_argument("--keys", action="store_true",
                           help="the first field of each line is an utterance key (Kaldi's text format), not a "
                                "word: print key<TAB>log10 per line")
        p.set_defaults(func=func)

    p = sub.add_parser("options", help="print every option: default, flag, rnnlm-0.4b name and rule")
    p.set_defaults(func=cmd_options)

    p = sub.add_parser("generate", help="sample sentences from a model (rnnlm-0.4b's -gen)")
    p.add_argument("--model", required=True)
    p.add_argument("--n", type=int, default=10, help="number of sentences (default 10)")
    p.add_argument("--prefix", default="", help="words every sentence starts with")
    add_arguments(p, ["max_words", "temperature"])
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="the same seed gives the same sentences")
    p.set_defaults(func=cmd_generate)

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
