"""An RNNLM from the content of an rnnlm-0.4b file, and back.

rnnlm-0.4b's network is rnnlm-fast's sigmoid Elman model without biases: the hidden layer
reads the input word's one-hot and the previous hidden layer through one matrix (syn0, H x
(V + H): the embedding's transpose, then the recurrent matrix), the output layer's rows
(syn1) are the words' then the classes', and the direct connections are the same table,
hashed by rnnlm-0.4b's scheme (``direct_hash="rnnlm04b"``). Its word classes are what it
recomputes from the counts on loading (:func:`layout.classes_from_counts`), not the file's
class column.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import options
from .._core import MAX_HIDDEN
from .._files import PathLike
from ..errors import ConfigError, ModelFormatError, VocabularyError
from ..model import RNNLM
from ..options import DEFAULTS, OPTIONS
from ..vocab import Vocabulary
from .layout import INT32_MAX, MAX_ORDER, MAX_WORD_BYTES, Rnnlm04bFile, classes_from_counts

# The bias unit (export with fold_biases): its input from every word and from itself. Its
# pre-activation is then 50 or more, whose sigmoid is 1.0 in float32 (rnnlm-0.4b clips
# pre-activations at 50), so it stays at its reset value 1.0 at every step.
BIAS_UNIT_WEIGHT = 50.0


def to_model(c: Rnnlm04bFile, path: PathLike) -> RNNLM:
    """The RNNLM that scores as rnnlm-0.4b scores with ``c`` (the file at ``path``, named in
    errors). Raises ModelFormatError on a structure rnnlm-fast cannot hold."""
    V, H, C, D = c.vocab_size, c.hidden, c.n_classes, c.direct_size
    classes = classes_from_counts(c.counts, C, c.old_classes, where=f"{path}: ")
    if C > V or int(classes[-1]) < C - 1:
        raise ModelFormatError(
            f"{path}: unsupported structure: rnnlm-0.4b's class assignment from the counts leaves classes "
            f"{int(classes[-1]) + 1}..{C - 1} of {C} empty ({V} words); rnnlm-fast needs a word in every "
            "class")
    differ = np.flatnonzero(classes != c.word_class)
    if differ.size:
        i = int(differ[0])
        warnings.warn(f"{path}:{c.vocab_line + i}: the file puts {c.words[i]!r} in class "
                      f"{int(c.word_class[i])}, but rnnlm-0.4b recomputes the classes from the counts when "
                      f"it loads a model and puts it in class {int(classes[i])} ({differ.size} words "
                      "differ); the recomputed classes are used", UserWarning, stacklevel=3)
    try:
        vocab = Vocabulary(c.words, c.counts, classes)
    except VocabularyError as e:
        line = (f"{path}:{c.vocab_line + e.word_index}" if getattr(e, "word_index", None) is not None
                else str(path))
        raise ModelFormatError(f"{line}: invalid vocabulary: {e}") from None
    order = c.direct_order if D > 0 else 0
    direct = D if order > 0 else 0  # a table without an order is never read
    largest = int(np.diff(vocab.class_begin).max())
    if direct and direct < 2 * max(C, largest):
        raise ModelFormatError(f"{path}: unsupported structure: {direct} direct connections, fewer than "
                               f"twice the number of classes ({C}) or of words in the largest class "
                               f"({largest})")
    model = RNNLM(vocab, hidden=H, direct=direct, direct_order=order or DEFAULTS["direct_order"],
                  direct_hash="rnnlm04b")
    w = model.weights()
    w["embed"][:] = c.syn0[:, :V].T
    w["recurrent"][:] = c.syn0[:, V:]
    w["word_w"][:] = c.syn1[:V]
    w["class_w"][:] = c.syn1[V:]
    for name in ("hidden_bias", "class_b", "word_b"):
        w[name][:] = 0.0
    if direct:
        w["direct"][:] = c.direct
    model.train_options = _recorded_options(c)
    return model


def _recorded_options(c: Rnnlm04bFile) -> dict:
    """The training options the file records that rnnlm-fast has (those within its rules)."""
    out = {}
    for name, value in (("lr", c.starting_lr), ("bptt", max(c.bptt, 1)), ("bptt_block", c.bptt_block),
                        ("independent", c.independent)):
        try:
            out[name] = OPTIONS[name].check(value)
        except ConfigError:
            pass
    return out


def from_model(model: RNNLM, fold_biases: bool = False) -> Rnnlm04bFile:
    """The content of an rnnlm-0.4b file that scores as ``model`` does.

    A model with non-zero biases needs ``fold_biases``: one extra hidden unit, held at 1.0,
    then carries them (exact up to float rounding; the hidden layer grows by one).

    Raises ModelFormatError naming what rnnlm-0.4b cannot hold.
    """
    refuse = "this model cannot be written in rnnlm-0.4b's format: "
    vocab, V, H, C = model.vocab, len(model.vocab), model.hidden, model.n_classes
    if model.cell != "sigmoid":
        raise ModelFormatError(f"{refuse}its cell is {model.cell!r}; rnnlm-0.4b has only the sigmoid layer")
    if model.backward:
        raise ModelFormatError(f"{refuse}it is a backward model; rnnlm-0.4b reads left to right")
    if model.embedding:
        raise ModelFormatError(f"{refuse}it has an embedding layer ({model.embedding} wide); rnnlm-0.4b "
                               "gives each word its own input row")
    if model.direct and model.direct_hash != "rnnlm04b":
        raise ModelFormatError(f"{refuse}its direct connections are hashed by rnnlm-fast's "
                               f"{model.direct_hash!r} scheme; rnnlm-0.4b reads only tables trained with "
                               "direct_hash='rnnlm04b'")
    if model.direct_order > MAX_ORDER:
        raise ModelFormatError(f"{refuse}direct order {model.direct_order}; "
                               f"rnnlm-0.4b's largest is {MAX_ORDER}")
    long = next((i for i, word in enumerate(vocab.words) if len(word.encode("utf-8")) > MAX_WORD_BYTES), None)
    if long is not None:
        raise ModelFormatError(f"{refuse}word {long} is {len(vocab.words[long].encode('utf-8'))} bytes long; "
                               f"rnnlm-0.4b cuts words at {MAX_WORD_BYTES} bytes")
    if int(vocab.counts.max()) > INT32_MAX:
        raise ModelFormatError(f"{refuse}a word count above {INT32_MAX} "
                               "(rnnlm-0.4b's counts are 32-bit ints)")
    old_classes = _matching_class_method(vocab, C, refuse)
    w = {name: np.asarray(a) for name, a in model.weights().items()}
    if not all(np.isfinite(a).all() for a in w.values()):
        raise ModelFormatError(f"{refuse}it has non-finite weights")
    syn0 = np.concatenate([w["embed"].T, w["recurrent"]], axis=1)
    syn1 = np.concatenate([w["word_w"], w["class_w"]])
    biased = [name for name in ("hidden_bias", "class_b", "word_b") if np.any(w[name] != 0)]
    if biased and not fold_biases:
        raise ModelFormatError(f"{refuse}it has non-zero biases ({', '.join(biased)}) and rnnlm-0.4b has "
                               "none; fold them into one extra hidden unit held at 1.0 (fold_biases=True, "
                               "--fold-biases)")
    if biased:
        if H + 1 > MAX_HIDDEN:
            raise ModelFormatError(f"{refuse}folding the biases needs {H + 1} hidden units, "
                                   f"above {MAX_HIDDEN}")
        syn0 = _with_bias_unit(w, syn0, V, H)
        syn1 = np.concatenate([syn1, np.concatenate([w["word_b"], w["class_b"]])[:, None]], axis=1)
        H += 1
    opts = dict(model.train_options)
    return Rnnlm04bFile(
        words=list(vocab.words), counts=np.asarray(vocab.counts, dtype=np.int64),
        word_class=np.asarray(vocab.word_class, dtype=np.int32), hidden_state=np.ones(H, dtype=np.float32),
        syn0=np.ascontiguousarray(syn0, dtype=np.float32), syn1=np.ascontiguousarray(syn1, dtype=np.float32),
        direct=np.asarray(w["direct"] if model.direct else np.zeros(0), dtype=np.float32), n_classes=C,
        direct_order=model.direct_order if model.direct else 0, old_classes=old_classes,
        independent=bool(opts.get("independent", False)), bptt=int(opts.get("bptt", DEFAULTS["bptt"])),
        bptt_block=int(opts.get("bptt_block", DEFAULTS["bptt_block"])),
        starting_lr=float(opts.get("lr") or options.lr_for("sigmoid")),
        lr=float(model.history[-1].lr if model.history else opts.get("lr") or options.lr_for("sigmoid")))


def _matching_class_method(vocab: Vocabulary, C: int, refuse: str) -> bool:
    """rnnlm-0.4b's "old classes" flag under which it recomputes ``vocab``'s classes from its
    counts (it does on loading); refuses a vocabulary whose classes it would not recompute."""
    for old in (False, True):
        try:
            if np.array_equal(classes_from_counts(vocab.counts, C, old), vocab.word_class):
                return old
        except ModelFormatError as e:
            raise ModelFormatError(f"{refuse}{e}") from None
    raise ModelFormatError(f"{refuse}its word classes are not what rnnlm-0.4b computes from the word counts "
                           f"({C} classes, by sqrt-frequency or by frequency), and rnnlm-0.4b recomputes "
                           "them when it loads a model; build the vocabulary with Vocabulary.from_corpus")


def _with_bias_unit(w: dict, syn0: np.ndarray, V: int, H: int) -> np.ndarray:
    """syn0 with hidden unit H added: fed by every word and by itself with BIAS_UNIT_WEIGHT
    (so it stays at 1.0), feeding each hidden unit its bias through the recurrent column."""
    out = np.zeros((H + 1, V + H + 1), dtype=np.float32)
    out[:H, :V + H] = syn0
    out[:H, V + H] = w["hidden_bias"]
    out[H, :V] = BIAS_UNIT_WEIGHT
    out[H, V + H] = BIAS_UNIT_WEIGHT
    return out
