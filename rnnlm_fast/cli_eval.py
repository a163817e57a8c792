"""The command line's scoring commands: ``eval`` (perplexity, also mixed with another LM),
``score`` (one log10 probability per line) and ``generate`` (sampled sentences)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ._progress import wanted as progress_wanted
from .encoding import case_mapping, oov_warnings_to_stderr, read_lines, split_keys, split_words
from .errors import ConfigError, CorpusError
from .model import RNNLM
from .ngram import check_weight, interpolate_log10
from .ngram_cli import add_ngram_arguments, load_eval_ngram, report_eval_ngram
from .options_cli import add_arguments
from .vocab import Vocabulary


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
                               per_word=bool(args.per_word or args.lm_prob or ngram),
                               progress=progress_wanted(args.quiet),
                               case=args.case, max_oov_rate=args.max_oov_rate)
    per_word = res.word_log10
    if args.per_word:  # the input words, as the text has them (unknown ones too)
        words = [w for line in read_lines(args.text) for w in (*split_words(line), "</s>")]
        if len(words) != len(per_word):
            raise CorpusError(f"{args.text}: {len(words)} words read back for {len(per_word)} scored "
                              "positions")
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
            enc = model.encode_sentences([fix(line) for line in read_lines(args.text)])
        _report_interpolation(model, enc.in_text_order(enc.ids), per_word, args)
    if ngram is not None:
        report_eval_ngram(model, ngram, args, res)
    return 0


def _read_word_probs(path: str, expected: int) -> np.ndarray:
    """rnnlm-0.4b's -lm-prob file: the first number of each line is a word's probability."""
    values = []
    for lineno, line in enumerate(read_lines(path), 1):
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
        raise CorpusError(f"{path}: {len(values)} probabilities for {expected} words (every word and </s> "
                          "needs one)")
    return np.array(values)


def _report_interpolation(model: RNNLM, ids: np.ndarray, per_word: np.ndarray,
                          args: argparse.Namespace) -> None:
    """rnnlm-0.4b's -lm-prob/-lambda: per-word linear interpolation with another LM, given the
    RNN's per-word log10 probabilities of the text and its word ids (-1 = unknown)."""
    weight = check_weight(args.weight, "--lambda")  # the RNN's (rnnlm-0.4b's -lambda)
    rnn = per_word.copy()
    if model.vocab.unk_id < 0:
        rnn[ids < 0] = -np.inf  # unknown to the RNN: the other LM's share only
    with np.errstate(divide="ignore"):
        other = np.log10(_read_word_probs(args.lm_prob, len(rnn)))
    combined = float(interpolate_log10(rnn, other, 1.0 - weight).sum())
    n = len(rnn)
    other_log10 = float(other.sum())
    print(f"PPL other {10 ** (-other_log10 / n):.2f}  PPL combine ({args.weight:g} * rnn + "
          f"{1 - args.weight:g} * other) {10 ** (-combined / n):.2f}")


def cmd_score(args: argparse.Namespace) -> int:
    model = _load(args)
    lines = read_lines(args.text)
    if args.keys:  # 'utt1 the cat sat': the first field names the line, the rest is the sentence
        keys, lines = split_keys(lines, "<stdin>" if args.text == "-" else args.text)
    with oov_warnings_to_stderr():
        scores = model.score(lines, independent=not args.carry_state, oov=args.oov,
                             oov_penalty=args.oov_penalty, threads=args.threads, case=args.case,
                             max_oov_rate=args.max_oov_rate)
    prefixes = [f"{k}\t" for k in keys] if args.keys else [""] * len(lines)
    sys.stdout.write("".join(f"{k}{s:.6f}\n" for k, s in zip(prefixes, scores.tolist())))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    model = _load(args)
    prefix = f"{args.prefix} " if args.prefix else ""
    for sentence in model.generate(args.n, prefix=args.prefix, max_words=args.max_words,
                                   temperature=args.temperature, seed=args.seed):
        print(f"{sentence} {args.prefix}".strip() if model.backward else prefix + sentence)
    return 0


def add_scoring_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval``, ``score`` and ``generate`` subcommands to ``sub``."""
    for name, helptext, func in (("eval", "perplexity of a text", cmd_eval),
                                 ("score", "one log10 probability per input line, nothing else", cmd_score)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--model", required=True)
        p.add_argument("--text", required=(name == "eval"), default="-",
                       help="text file ('-' = stdin for score)")
        p.add_argument("--vocab", help="check the model against this vocabulary file")
        add_arguments(p, ["threads", "oov_penalty", "case", "max_oov_rate"])
        p.add_argument("--quiet", action="store_true")
        if name == "eval":
            p.add_argument("--per-word", action="store_true", help="also print word<TAB>log10 for every word")
            add_arguments(p, ["independent", "dynamic"])
            p.add_argument("--lm-prob", help="per-word probabilities of another LM, one per line and word "
                                             "(</s> included), to interpolate with (rnnlm-0.4b's -lm-prob)")
            p.add_argument("--lambda", dest="weight", type=float, default=0.5,
                           help="weight of the RNN in the interpolation (default 0.5)")
            add_ngram_arguments(p)
        else:
            add_arguments(p, ["oov", "carry_state"])
            p.add_argument("--keys", action="store_true",
                           help="the first field of each line is an utterance key (Kaldi's text format), "
                                "not a word: print key<TAB>log10 per line")
        p.set_defaults(func=func)

    p = sub.add_parser("generate", help="sample sentences from a model (rnnlm-0.4b's -gen)")
    p.add_argument("--model", required=True)
    p.add_argument("--n", type=int, default=10, help="number of sentences (default 10)")
    p.add_argument("--prefix", default="", help="words every sentence starts with")
    add_arguments(p, ["max_words", "temperature", "seed"])
    p.set_defaults(func=cmd_generate)

