"""Every model, vocabulary, training and scoring option, declared once.

Each :class:`Option` holds the name (as the Python API spells it), type, default, valid range, help text,
command-line flag and rnnlm-0.4b's spelling. From this table come the API's defaults and keyword signatures,
argparse's options (options_cli.py), what a model file and a checkpoint record, and the validation (one rule
and one message per option), so a new option is added here and nowhere else. Old names go through the one
deprecation mechanism here (``deprecated``, ``renamed``). ``rnnlm-fast options`` prints the table.
"""

from __future__ import annotations

import argparse
import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from . import _core
from .deprecation import deprecated
from .errors import ConfigError

# Initial learning rates that train stably with online SGD: rnnlm-0.4b's 0.1 for sigmoid;
# tanh and relu pass up to 4x larger errors back through time and blow up at 0.1, as do
# gated cells with long BPTT (measured on the bundled books and PTB; see README).
DEFAULT_LR = {"sigmoid": 0.1, "tanh": 0.01, "relu": 0.01, "gru": 0.02, "lstm": 0.05}
# With batch > 1 the step is the block's gradient (summed over time, averaged over streams), clipped.
# Sigmoid H=200 on PTB, B=32 and the default bptt 4: test PPL 144.2 at 2.0, 147.1 at 1.0 (4 and more
# diverge); GRU H=400 diverged at 2.5 (docs/performance.md, 2026-12-07).
BLOCK_LR = {"sigmoid": 2.0, "tanh": 1.0, "relu": 0.5, "gru": 1.0, "lstm": 1.0}
DIRECTIONS = ("forward", "backward")
OOV_POLICIES = ("auto", "unk", "penalty")
CLASS_METHODS = tuple(_core.CLASS_METHODS)
DIRECT_HASHES = tuple(_core.DIRECT_HASHES)
DIVERGENCE_POLICIES = ("rollback", "raise")
CASES = ("keep", "lower", "upper")
SYNC_RULES = ("average", "bmuf")


@dataclass(frozen=True)
class Option:
    """One option. ``low``/``high`` bound numbers (``open_low``/``open_high``: excluded);
    ``choices`` bound strings; ``none_ok``: None is valid (it means "derive it")."""

    name: str
    type: type
    default: Any
    help: str
    # "model", "vocabulary", "training" (what one epoch does), "schedule" (across epochs), "stopping" (when a
    # long run ends: in checkpoints, not in model files, so model files stay as they were), "distributed"
    # (across MPI processes), "run" (how a run executes: not recorded in the model), "scoring", "generation"
    group: str
    low: Optional[float] = None
    high: Optional[float] = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple = ()
    none_ok: bool = False
    flag: Optional[str] = None  # the command line's spelling; None: not on the command line
    rnnlm: Optional[str] = None  # rnnlm-0.4b's spelling, where it has the option
    deprecated: tuple = ()  # old API names still accepted, with a DeprecationWarning
    stored_as: Optional[str] = None  # its key in model files, where that differs from name
    older_files_lack: bool = False  # older checkpoints / model configs may lack it: they imply the default
    parse: Optional[Callable[[str], Any]] = None  # how the command line's text becomes a value (None: type)
    default_text: Optional[str] = None  # the default as --help says it, where repr(default) would not
    shortcuts: tuple = ()  # other flags, each setting one value: ((flag, value), ...)

    @property
    def key(self) -> str:
        """Its key in a model file's ``train_options`` and a checkpoint's ``options``."""
        return self.stored_as or self.name

    def rule(self) -> str:
        """The rule, as the end of the sentence '<name> must be ...'."""
        if self.choices:
            return f"one of {self.choices}"
        if self.type is bool:
            return "True or False"
        kind = "an integer" if self.type is int else "a number"
        if self.low is not None and self.high is not None:
            if self.type is int:
                return f"an integer in {int(self.low)}..{int(self.high)}"
            return (f"in {'(' if self.open_low else '['}{self.low:g}, "
                    f"{self.high:g}{')' if self.open_high else ']'}")
        if self.low is not None:
            if self.low == 0 and self.open_low:
                return f"a positive {'integer' if self.type is int else 'number'}"
            return f"{kind} {'>' if self.open_low else '>='} {self.low:g}"
        return kind

    def check(self, value: Any) -> Any:
        """``value`` as this option's plain Python type; ConfigError when it breaks the rule."""
        if value is None and self.none_ok:
            return None
        bad = ConfigError(f"{self.name} must be {self.rule()}, not {value!r}")
        if self.type is str:
            if not isinstance(value, str) or value not in self.choices:
                raise bad
            return value
        if self.type is bool:
            if not isinstance(value, (bool, np.bool_, numbers.Integral)) or value not in (0, 1):
                raise bad
            return bool(value)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise bad
        if self.type is int:
            if not isinstance(value, numbers.Integral) and not float(value).is_integer():
                raise bad
            value = int(value)
        else:
            value = float(value)
        if self.type is float and not math.isfinite(value):
            raise bad
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            raise bad
        if self.high is not None and (value > self.high or (self.open_high and value == self.high)):
            raise bad
        return value


def parse_count(text: str) -> int:
    """An integer with an optional K/M/G suffix (powers of 1000): '2M' -> 2000000."""
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:].upper(), 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count such as 2000000 or 2M, not {text!r}") from None
    if value < 0 or value != int(value):
        raise argparse.ArgumentTypeError(f"expected a non-negative whole count, not {text!r}")
    return int(value)


def parse_duration(text: str) -> float:
    """Seconds, with an optional s/m/h suffix: '90m' -> 5400.0, '3h' -> 10800.0."""
    scale = {"S": 1, "M": 60, "H": 3600}.get(text[-1:].upper(), 0)
    number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration (5400, 90m, 3h), not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative duration, not {text!r}")
    return value


_ALL = (
    # --- the model ------------------------------------------------------------------------------
    Option("hidden", int, 100, "size of the recurrent (hidden) layer", "model", low=1, high=_core.MAX_HIDDEN,
           flag="--hidden", rnnlm="-hidden"),
    Option("cell", str, "sigmoid", "recurrent cell: an Elman layer with that nonlinearity (sigmoid is "
           "rnnlm-0.4b's), or a GRU / LSTM cell", "model", choices=tuple(_core.CELLS), flag="--cell",
           deprecated=("activation",)),
    Option("seed", int, 1, "random seed: of the initial weights and dropout masks (train), of the sampled "
           "sentences (generate)", "model", low=0, high=2**64 - 1, flag="--seed", rnnlm="-rand-seed"),
    Option("direct", int, 0, "hashed max-ent direct connections: table size in weights (rnnlm-0.4b's -direct "
           "is in millions; the CLI also takes 2M); 0 = none", "model", low=0, high=_core.MAX_DIRECT_SIZE,
           flag="--direct", rnnlm="-direct", parse=parse_count),
    Option("direct_order", int, 3, "n-gram order of the direct connections", "model", low=1,
           high=_core.MAX_DIRECT_ORDER, flag="--direct-order", rnnlm="-direct-order"),
    Option("direct_hash", str, "splitmix", "how n-gram features are hashed into the direct table: "
           "rnnlm-fast's 'splitmix' or rnnlm-0.4b's 'rnnlm04b' (models imported from rnnlm-0.4b use it; "
           "exporting one needs it)", "model", choices=DIRECT_HASHES, flag="--direct-hash",
           older_files_lack=True),
    Option("direction", str, "forward", "'backward' reads every sentence last word first (</s> still ends "
           "it): a rescoring partner for a forward model", "model", choices=DIRECTIONS, flag="--direction",
           shortcuts=(("--backward", "backward"),)),
    Option("embedding", int, 0, "width of a shared word embedding feeding the recurrent layer (dropped out "
           "at --dropout's rate), as Zaremba et al.'s PTB LSTMs; 0 = none: each word has its own input "
           "row, rnnlm-0.4b's layout. Trains with --batch > 1 only", "model", low=0, high=_core.MAX_HIDDEN,
           flag="--embedding", older_files_lack=True),
    # --- the vocabulary -------------------------------------------------------------------------
    Option("min_count", int, 1, "rarer words become <unk>", "vocabulary", low=1, flag="--min-count"),
    Option("max_size", int, 0, "keep at most this many words (0 = all)", "vocabulary", low=0,
           flag="--max-size"),
    Option("classes", int, 100, "word classes of the factored softmax", "vocabulary", low=1, flag="--classes",
           rnnlm="-class"),
    Option("class_method", str, "sqrt", "rnnlm-0.4b's sqrt-frequency binning, or plain frequency "
           "('old classes')", "vocabulary", choices=CLASS_METHODS, flag="--class-method",
           rnnlm="-old-classes"),
    Option("max_line_bytes", int, _core.DEFAULT_MAX_LINE_BYTES, "reject longer lines as corrupt input",
           "vocabulary", low=1, flag="--max-line-bytes"),
    # --- training: one epoch, then the schedule across epochs ---------------------------------
    Option("lr", float, None, "initial learning rate; None: the cell's ("
           + ", ".join(f"{cell} {lr:g}" for cell, lr in DEFAULT_LR.items()) + ")", "training",
           low=0, open_low=True, none_ok=True, flag="--lr", rnnlm="-alpha", default_text="the cell's"),
    Option("l2", float, 1e-6, "L2 regularisation, applied every 10th word as rnnlm-0.4b does", "training",
           low=0, flag="--l2", rnnlm="-beta", deprecated=("beta",), stored_as="beta"),
    Option("bptt", int, 4, "steps of backpropagation through time (1 = plain backprop)", "training", low=1,
           high=_core.MAX_BPTT, flag="--bptt", rnnlm="-bptt"),
    Option("bptt_block", int, 10, "words between BPTT updates", "training", low=1, high=_core.MAX_BPTT_BLOCK,
           flag="--bptt-block", rnnlm="-bptt-block"),
    Option("independent", bool, False, "reset the hidden state at each sentence (training, validation, eval)",
           "training", flag="--independent", rnnlm="-independent"),
    Option("gradient_cutoff", float, 15.0, "errors reaching the hidden layer are clipped to +-this",
           "training", low=0, open_low=True, flag="--gradient-cutoff"),
    Option("dropout", float, 0.0, "drop rate of the hidden units feeding the output layer while training",
           "training", low=0, high=1, open_high=True, flag="--dropout", older_files_lack=True),
    Option("input_dropout", float, 0.0, "rate at which a training step's input word is dropped "
           "(word-level embedding dropout)", "training", low=0, high=1, open_high=True,
           flag="--input-dropout", older_files_lack=True),
    Option("min_improvement", float, 1.003, "relative validation improvement below which the learning rate "
           "is halved", "schedule", low=1, flag="--min-improvement", rnnlm="-min-improvement"),
    Option("max_epochs", int, 100, "hard limit on epochs", "schedule", low=1, flag="--max-epochs"),
    # --- when a long run stops (kept in checkpoints, not in model files: rnnlm_fast/schedule.py) ---
    Option("patience", int, 0, "epochs in a row below min_improvement tolerated before the halving starts, "
           "and again before training stops (0: rnnlm-0.4b's rule)", "stopping", low=0, high=100,
           flag="--patience", older_files_lack=True),
    Option("min_lr", float, 0.0, "stop once halving takes the learning rate below this (0: no floor)",
           "stopping", low=0, flag="--min-lr", older_files_lack=True),
    Option("time_budget", float, 0.0, "seconds of training and validation the run may take (the CLI also "
           "takes 90m or 3h; 0: none): the halving starts when only budget_halvings epochs fit in what is "
           "left, and no epoch starts that would not end within it", "stopping", low=0, flag="--time-budget",
           older_files_lack=True, parse=parse_duration),
    Option("lr_decay", float, 2.0, "what the learning rate is divided by after each epoch of the halving "
           "phase (2: rnnlm-0.4b's halving; Zaremba et al. divided by 1.2 an epoch)", "stopping", low=1,
           open_low=True, flag="--lr-decay", older_files_lack=True),
    Option("budget_halvings", int, 4, "with time_budget: epochs of the budget kept for the halving phase",
           "stopping", low=1, high=100, flag="--budget-halvings", older_files_lack=True),
    # --- data-parallel training across MPI processes (README: "Training on several machines") ---
    Option("sync_words", int, 10_000, "distributed training: words each process trains on between two "
           "combinations of the processes' weights (K; the process with the most threads, the others in "
           "proportion)", "distributed", low=1, flag="--sync-words", older_files_lack=True),
    Option("sync", str, "bmuf", "distributed training: how the processes' weights are combined: plain "
           "model averaging, or block momentum (BMUF, Chen and Huo 2016)", "distributed", choices=SYNC_RULES,
           flag="--sync", older_files_lack=True),
    Option("block_momentum", float, None, "BMUF's block momentum; None: 1 - 1/processes", "distributed",
           low=0, high=1, open_high=True, none_ok=True, flag="--block-momentum", older_files_lack=True),
    Option("block_lr", float, 1.0, "BMUF's block learning rate", "distributed", low=0, open_low=True,
           flag="--block-lr", older_files_lack=True),
    Option("sync_timeout", float, 600.0, "distributed training: seconds a process waits for the others at a "
           "combination or decision before it stops the job (a process died or hangs)", "distributed", low=0,
           open_low=True, flag="--sync-timeout", older_files_lack=True),
    # --- how a training run executes (not recorded in the model) ---------------------------------
    Option("threads", int, 1, "threads (0 = all cores); 1 is bit-reproducible", "run", low=0,
           high=_core.MAX_THREADS, flag="--threads"),
    Option("streams", int, 1, "independent streams of sentences each thread trains in lockstep, so the "
           "products become matrix-matrix (faster for big models); the learning rate is scaled by "
           "streams^-0.4; 1 is rnnlm-0.4b's online SGD",
           "run", low=1, high=_core.MAX_STREAMS, flag="--streams", older_files_lack=True),
    Option("batch", int, 1, "block-synchronous mini-batch training: B streams of sentences advance bptt "
           "steps with fixed weights, then one update (the block's gradient: summed over time, averaged over "
           "the streams, clipped to clip_norm); 1 is rnnlm-0.4b's online SGD", "run", low=1,
           high=_core.MAX_BATCH, flag="--batch", older_files_lack=True),
    Option("clip_norm", float, 5.0, "with batch > 1: the global norm a block's gradient is clipped to "
           "(0: none)", "run", low=0, flag="--clip-norm", older_files_lack=True),
    Option("on_divergence", str, "rollback", "on NaN/Inf: restore the last good weights and halve the "
           "learning rate, or raise at once", "run", choices=DIVERGENCE_POLICIES, flag="--on-divergence"),
    Option("max_rollbacks", int, 3, "divergence rollbacks before giving up", "run", low=0,
           flag="--max-rollbacks"),
    # --- scoring --------------------------------------------------------------------------------
    Option("oov", str, "auto", "unknown words score as <unk> ('unk') or with oov_penalty ('penalty'); "
           "'auto' picks 'unk' when the vocabulary has <unk>", "scoring", choices=OOV_POLICIES, flag="--oov"),
    Option("oov_penalty", float, -5.0, "log10 score of an unknown word without <unk> (rnnlm-0.4b: -5)",
           "scoring", flag="--oov-penalty"),
    Option("case", str, "keep", "map the text's words to the model's case before scoring ('keep' them, "
           "'lower' or 'upper')", "scoring", choices=CASES, flag="--case"),
    Option("max_oov_rate", float, 0.9, "refuse text whose share of words outside the vocabulary exceeds this "
           "(1: never refuse; a warning above 20%)", "scoring", low=0, high=1, flag="--max-oov-rate"),
    Option("ngram_interpolate", float, None, "mix the n-gram LM of --ngram into the RNNLM word by word "
           "with this weight: P = w * P_ngram + (1 - w) * P_rnn (rnnlm-0.4b's -lm-prob with -lambda 1-w); "
           "None: no mixing", "scoring", low=0, high=1, none_ok=True, flag="--ngram-interpolate"),
    Option("carry_state", bool, False, "carry the hidden state from one line (hypothesis) to the next, as "
           "rnnlm-0.4b does; by default each is scored from a fresh state (the API's independent=True)",
           "scoring", flag="--carry-state"),
    Option("dynamic", float, 0.0, "dynamic evaluation: keep training a copy of the model on the text as "
           "it is scored, with this learning rate (0: static)", "scoring", low=0, flag="--dynamic",
           rnnlm="-dynamic"),
    # --- generation -----------------------------------------------------------------------------
    Option("max_words", int, 100, "stop a sampled sentence after this many words if no </s> was drawn",
           "generation", low=1, flag="--max-words"),
    Option("temperature", float, 1.0, "divides the logits when sampling: below 1 sharper, above 1 flatter",
           "generation", low=0, open_low=True, flag="--temperature"),
)

OPTIONS: dict[str, Option] = {o.name: o for o in _ALL}
DEFAULTS: dict[str, Any] = {o.name: o.default for o in _ALL}
# The batch commands (demo, rescore) run on every core unless told otherwise.
BATCH_DEFAULTS: dict[str, Any] = {"threads": 0}


def group(*names: str) -> list[Option]:
    """The options of these groups, in declaration order."""
    return [o for o in _ALL if o.group in names]


EPOCH = tuple(o.name for o in group("training"))  # what train_epoch takes
RECORDED = tuple(o.name for o in group("training", "schedule"))  # what a model file's train_options holds
# what train takes and checkpoints hold
TRAINING = tuple(o.name for o in group("training", "schedule", "stopping", "distributed", "run"))
MODEL = tuple(o.name for o in group("model"))
VOCABULARY = tuple(o.name for o in group("vocabulary"))


# With B streams a step sums B words' gradients computed at the same weights, so the learning rate is scaled
# by B ** -STREAMS_LR_POWER: on PTB (300k words, two epochs, H=200) at B=32 the GRU diverges with lr unscaled
# and matches B=1 with lr / 4 (32 ** -0.4); the sigmoid cell is best with lr / 2, 5% behind with lr / 4.
STREAMS_LR_POWER = 0.4


def lr_for_streams(lr: float, streams: int) -> float:
    """The per-word learning rate the engine applies when ``streams`` streams share a step."""
    return lr if streams <= 1 else lr * streams ** -STREAMS_LR_POWER


def lr_for(cell: str, batch: int = 1) -> float:
    """The initial learning rate of a cell when ``lr`` is not given (online SGD, or batch > 1)."""
    return DEFAULT_LR[cell] if batch <= 1 else BLOCK_LR[cell]


def resolve(names: Iterable[str], given: dict[str, Any], what: str = "option") -> dict[str, Any]:
    """Check ``given`` (API spellings; deprecated names accepted with a warning) and fill in
    the defaults of ``names``: every option named, as its plain Python type.

    Raises ConfigError on an unknown name, an option given twice, or a value against its rule."""
    names = tuple(names)
    out: dict[str, Any] = {}
    for key, value in given.items():
        name = _api_name(key, names, what)
        if name in out:
            raise ConfigError(f"{name} given twice (as {key!r} and {name!r})")
        out[name] = OPTIONS[name].check(value)
    return {n: out[n] if n in out else OPTIONS[n].default for n in names}


def _api_name(key: str, names: tuple, what: str) -> str:
    if key in names:
        return key
    for name in names:
        if key in OPTIONS[name].deprecated:
            deprecated(f"the {what} {key!r} is deprecated; call it {name!r}", stacklevel=5)
            return name
    raise ConfigError(f"unknown {what} {key!r} (known: {', '.join(names)})")


def to_file(values: dict[str, Any]) -> dict[str, Any]:
    """Options keyed as model files store them (other keys kept as they are)."""
    return {OPTIONS[n].key if n in OPTIONS else n: v for n, v in values.items()}


def from_file(stored: dict[str, Any]) -> dict[str, Any]:
    """Options read from a model file, keyed by API name (unknown keys kept as they are)."""
    by_key = {old: o.name for o in _ALL for old in o.deprecated}
    by_key.update({o.key: o.name for o in _ALL})
    return {by_key.get(k, k): v for k, v in stored.items()}


def keyword_signature(names: Iterable[str], positional: int = 0) -> Callable[[Callable], Callable]:
    """Give a ``**options`` function the keyword parameters of these options in its signature
    (what help() and editors show) and their help in its docstring; the first ``positional``
    of them may also be given by position (the function's ``*args``)."""
    names = tuple(names)

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.kind not in (inspect.Parameter.VAR_KEYWORD,
                                                                        inspect.Parameter.VAR_POSITIONAL)]
        params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD if i < positional else
                                     inspect.Parameter.KEYWORD_ONLY, default=OPTIONS[n].default,
                                     annotation=OPTIONS[n].type.__name__) for i, n in enumerate(names)]
        fn.__signature__ = sig.replace(parameters=params)
        fn.__doc__ = (fn.__doc__ or "").rstrip() + "\n\n        Options (rnnlm_fast.options)\n        " \
            "----------------------------\n" + describe(names, indent=8)
        return fn

    return decorate


def bind_positional(names: Sequence[str], args: Sequence, given: dict, who: str) -> dict[str, Any]:
    """``given`` with ``args`` bound to ``names`` in order (a :func:`keyword_signature` with
    ``positional``); TypeError for too many, or for one given both ways."""
    if len(args) > len(names):
        raise TypeError(f"{who} takes at most {len(names)} options by position ({', '.join(names)})")
    for name, value in zip(names, args):
        if name in given:
            raise TypeError(f"{who} got {name} by position and by keyword")
    return {**dict(zip(names, args)), **given}


def describe(names: Iterable[str], indent: int = 0) -> str:
    """numpy-docstring lines for these options: name, type, default, rule, help."""
    pad = " " * indent
    lines = []
    for n in names:
        o = OPTIONS[n]
        lines.append(f"{pad}{n} : {o.type.__name__}, default {o.default!r}")
        lines.append(f"{pad}    {o.help[0].upper()}{o.help[1:]}; must be {o.rule()}"
                     + (f" (rnnlm-0.4b: {o.rnnlm})" if o.rnnlm else "") + ".")
    return "\n".join(lines) + "\n"
