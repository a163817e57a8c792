"""A model's content as a model file holds it (the bytes: rnnlm_fast/model_file.py).

The header's ``config`` holds the model options under the options table's keys, with the
vocabulary's size and classes, in the format's order; an option older files lack is written
only when it differs from its default and read as the default when absent. The arrays hold
the vocabulary (words, counts, classes) and the weights. Reading checks them against each
other before a model is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core, options
from ._files import PathLike
from .errors import ConfigError, ModelFormatError, VocabularyError
from .options import DEFAULTS, OPTIONS
from .training import EpochRecord
from .vocab import Vocabulary

CONFIG_KEYS = ("vocab_size", "hidden", "classes", "cell", "direct", "direct_order", "seed", "direction",
               "direct_hash", "embedding")


def file_content(vocab: Vocabulary, values: dict[str, Any], weights: dict[str, np.ndarray],
                 train_options: dict[str, Any], history: list[dict[str, Any]]) -> tuple[dict, dict]:
    """(header, named arrays) of a model of ``vocab`` and these model options (``values``)."""
    words_blob = "\n".join(vocab.words).encode("utf-8")
    arrays = {
        "vocab.words": np.frombuffer(words_blob, dtype=np.uint8),
        "vocab.counts": vocab.counts.astype(np.int64),
        "vocab.word_class": vocab.word_class.astype(np.int32),
    }
    arrays.update({f"weights.{k}": v for k, v in weights.items()})
    values = {"vocab_size": len(vocab), "classes": vocab.n_classes, **values}
    config = {k: values[k] for k in CONFIG_KEYS
              if not (k in OPTIONS and OPTIONS[k].older_files_lack and values[k] == DEFAULTS[k])}
    header = {
        "format": "rnnlm-fast",
        "config": options.to_file(config),
        "train_options": options.to_file(train_options),
        "history": history,
    }
    return header, arrays


@dataclass
class Content:
    """What a model file holds, checked: the model options, the vocabulary, the weights (each of
    the engine's shape and float32), the recorded training options and history."""

    values: dict[str, Any]
    vocab: Vocabulary
    weights: dict[str, np.ndarray]
    train_options: dict[str, Any]
    history: list[EpochRecord]


def read_content(path: PathLike, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Content:
    """The checked content of a model file's (header, arrays); ModelFormatError naming ``path``."""
    try:
        cfg = options.from_file(dict(header["config"]))
        V, H, C = int(cfg["vocab_size"]), int(cfg["hidden"]), int(cfg["classes"])
        values = {n: OPTIONS[n].type(cfg.get(n, DEFAULTS[n])) for n in options.MODEL if n != "hidden"}
        words = arrays["vocab.words"].tobytes().decode("utf-8").split("\n")
        counts, word_class = arrays["vocab.counts"], arrays["vocab.word_class"]
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
        raise ModelFormatError(f"{path}: incomplete or inconsistent model header ({e})") from None
    values["hidden"] = H
    for name in ("cell", "direction", "direct_hash"):
        if values[name] not in OPTIONS[name].choices:
            raise ModelFormatError(f"{path}: unknown {name} {values[name]!r}")
    try:
        expected = _core.weight_shapes(V, H, C, values["cell"], values["direct"], values["embedding"])
    except (ConfigError, OverflowError, TypeError) as e:
        raise ModelFormatError(f"{path}: inconsistent model configuration: {e}") from None
    for name, shape in expected.items():
        shape = tuple(shape)
        a = arrays.get(f"weights.{name}")
        if a is None or a.shape != shape or a.dtype != np.float32:
            raise ModelFormatError(f"{path}: weights.{name} missing or not float32 {shape}")
    if len(words) != V or counts.shape != (V,) or word_class.shape != (V,):
        raise ModelFormatError(f"{path}: vocabulary of {len(words)} words does not match vocab_size {V}")
    try:
        vocab = Vocabulary(words, counts, word_class)
    except VocabularyError as e:
        raise ModelFormatError(f"{path}: invalid vocabulary: {e}") from None
    if vocab.n_classes != C:
        raise ModelFormatError(f"{path}: {vocab.n_classes} classes in the vocabulary, header says {C}")
    try:
        history = [EpochRecord(**r) for r in header.get("history") or [] if isinstance(r, dict)]
    except TypeError as e:  # a record with missing or unknown fields
        raise ModelFormatError(f"{path}: malformed training history ({e})") from None
    return Content(values, vocab, {name: arrays[f"weights.{name}"] for name in expected},
                   options.from_file(dict(header.get("train_options") or {})), history)
