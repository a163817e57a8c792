"""Training checkpoints: write one at the end of every epoch, resume from it.

A checkpoint is an ordinary model file (so ``RNNLM.load`` opens it as a model) with one
more header key, ``checkpoint``, and, only when they differ from the current weights,
``checkpoint.good.*`` sections holding the last good weights (the layout is described with
the rest of the model file in rnnlm_fast/model_file.py). The ``checkpoint`` key holds:

``schedule``      the learning-rate schedule's state (lr, halving, previous validation
                  log-likelihood, epoch counter, done)
``rollbacks``     divergence rollbacks so far (they count against ``max_rollbacks``)
``options``       every training option of the run (``threads`` included)
``data``          fingerprints of the training and validation data: for files, size and
                  SHA-256 (of the whole file up to 16 MiB, else of its first and last MiB);
                  always the SHA-256 of the encoded ids and offsets, which also catches a
                  changed vocabulary

The epoch history lives in the model header as for any model. Each checkpoint is written
atomically (temporary file + rename), so a crash at any moment leaves the previous
checkpoint or the new one. With one thread and a seed, training resumed from a checkpoint
reaches bit-identical weights to an uninterrupted run: the engine's epoch is deterministic
given the weights, and its random generator is only used at initialisation.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from . import options
from ._files import PathLike, require_file
from .encoding import Encoded
from .errors import CheckpointError, ConfigError, ModelFormatError
from .model_file import read_model, write_model
from .schedule import Schedule
from .trainable import M, Trainable

log = logging.getLogger("rnnlm_fast")

CHECKPOINT_VERSION = 1
_GOOD = "checkpoint.good."
_FULL_HASH_LIMIT = 16 << 20
_EDGE = 1 << 20
_SCHEDULE_FIELDS = {"lr": float, "min_improvement": float, "max_epochs": int, "epoch": int, "halving": bool,
                    "previous_logprob": float, "done": bool}
# fields later versions added: an older checkpoint lacks them and takes the defaults (off)
_SCHEDULE_LATER = {"patience": int, "min_lr": float, "time_budget": float, "budget_halvings": int,
                   "poor_epochs": int, "elapsed": float, "stop_reason": str, "lr_decay": float}


def _typed(value: Any, kind: type) -> bool:
    """JSON types: an int is a valid float, a bool is not a valid number."""
    if kind is float:
        return type(value) in (int, float)
    return type(value) is kind


def file_fingerprint(path: PathLike) -> dict[str, Any]:
    """Size and SHA-256 of a file: of all of it up to 16 MiB, else of its first and last MiB."""
    p = require_file(path, "data file")
    size = p.stat().st_size
    h = hashlib.sha256()
    with open(p, "rb") as f:
        if size <= _FULL_HASH_LIMIT:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
            how = "full"
        else:
            h.update(f.read(_EDGE))
            f.seek(size - _EDGE)
            h.update(f.read(_EDGE))
            how = "first+last MiB"
    return {"size": size, "sha256": h.hexdigest(), "hashed": how}


def encoded_fingerprint(enc: Encoded) -> str:
    """SHA-256 of the ids the engine trains on (unknown words mapped) and the sentence offsets."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(enc.mapped, dtype=np.int32).tobytes())
    h.update(np.ascontiguousarray(enc.offsets, dtype=np.int64).tobytes())
    return h.hexdigest()


def data_fingerprint(source: Union[PathLike, Encoded], enc: Encoded) -> dict[str, Any]:
    fp: dict[str, Any] = {"encoded_sha256": encoded_fingerprint(enc), "words": int(len(enc.ids))}
    if isinstance(source, (str, os.PathLike)):
        fp["path"] = str(source)
        fp["file"] = file_fingerprint(source)
    return fp


@dataclass
class Checkpoint:
    """The state of a training run read from a checkpoint: its schedule, rollbacks, options
    (API names), data fingerprints and last good weights (None: the current ones)."""

    path: Path
    schedule: dict[str, Any]
    rollbacks: int
    options: dict[str, Any]
    data: dict[str, Any]
    good: Optional[dict[str, np.ndarray]] = None

    def check_files(self, train: Union[PathLike, Encoded], valid: Union[PathLike, Encoded]) -> None:
        """Refuse data files that differ (by size and SHA-256) from those of the run."""
        _check_file(self.path, "training", train, self.data["train"])
        _check_file(self.path, "validation", valid, self.data["valid"])


class CheckpointWriter:
    """Writes the checkpoint of a training run after each epoch (used by the Trainer)."""

    def __init__(self, path: PathLike, values: dict[str, Any], data: dict[str, Any]):
        self.path = Path(path)
        self.options = options.to_file(values)
        self.data = data

    def save(self, model: Trainable, schedule: Schedule, rollbacks: int, good: dict[str, np.ndarray]) -> None:
        """Write the model with its schedule state atomically; the last good weights are
        stored only when they differ from the current ones."""
        header, arrays, version = model.file_content()
        current = model.weights()
        extra_arrays = {f"{_GOOD}{k}": v for k, v in good.items() if not np.array_equal(v, current[k])}
        header["checkpoint"] = {
            "version": CHECKPOINT_VERSION,
            "schedule": schedule.state(),
            "rollbacks": int(rollbacks),
            "options": self.options,
            "data": self.data,
            "has_good": bool(extra_arrays),
        }
        write_model(self.path, header, {**arrays, **extra_arrays}, version=version)


def _check_options(path: Path, stored: Any) -> dict[str, Any]:
    """A checkpoint's options as API names, each of its JSON type and within its range."""
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path}: malformed checkpoint state (options)")
    declared = [options.OPTIONS[n] for n in options.TRAINING]
    stored = {**{o.key: o.default for o in declared if o.older_files_lack}, **stored}
    if set(stored) != {o.key for o in declared}:
        raise CheckpointError(f"{path}: malformed checkpoint state (options {sorted(stored)})")
    values = {}
    for o in declared:
        value = stored[o.key]
        if not (_typed(value, o.type) or (value is None and o.none_ok)):
            raise CheckpointError(f"{path}: malformed checkpoint state (option {o.key} = {value!r})")
        try:
            values[o.name] = o.check(value)
        except ConfigError as e:
            raise CheckpointError(f"{path}: checkpoint option out of range: {e}") from None
    return values


def _fingerprint_ok(fp: dict[str, Any]) -> bool:
    """A data fingerprint's fields (as :func:`data_fingerprint` writes them) have their types."""
    if not isinstance(fp.get("encoded_sha256", ""), str) or not _typed(fp.get("words", 0), int):
        return False
    if "path" in fp and not isinstance(fp["path"], str):
        return False
    if "file" not in fp:  # encoded data: compared by the encoded fingerprint only
        return True
    f = fp["file"]
    return isinstance(f, dict) and _typed(f.get("size"), int) and isinstance(f.get("sha256"), str)


def _check_state(path: Path, state: Any) -> Checkpoint:
    """Validate the ``checkpoint`` header key's types (the file's checksums passed already)."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: malformed checkpoint state")
    if state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state.get('version')!r}, this rnnlm-fast reads "
                              f"{CHECKPOINT_VERSION}")
    sched, data = state.get("schedule"), state.get("data")
    ok = (isinstance(sched, dict)
          and set(_SCHEDULE_FIELDS) <= set(sched) <= set(_SCHEDULE_FIELDS) | set(_SCHEDULE_LATER)
          and all(_typed(sched[k], t) for k, t in {**_SCHEDULE_FIELDS, **_SCHEDULE_LATER}.items()
                  if k in sched)
          and isinstance(data, dict)
          and isinstance(data.get("train"), dict) and isinstance(data.get("valid"), dict)
          and type(state.get("rollbacks")) is int and state["rollbacks"] >= 0)
    if not ok or not all(_fingerprint_ok(data[k]) for k in ("train", "valid")):
        raise CheckpointError(f"{path}: malformed checkpoint state (schedule, options or data fingerprints)")
    decay = sched.get("lr_decay", options.DEFAULTS["lr_decay"])
    if not (math.isfinite(sched["lr"]) and sched["lr"] > 0 and sched["epoch"] >= 0
            and math.isfinite(decay) and decay > 1):
        raise CheckpointError(f"{path}: checkpoint schedule has an invalid learning rate, decay or epoch")
    values = _check_options(path, state.get("options"))
    return Checkpoint(path, sched, state["rollbacks"], values, data)


def _check_file(path: Path, which: str, given: Union[PathLike, Encoded], stored: dict[str, Any]) -> None:
    if not isinstance(given, (str, os.PathLike)) or "file" not in stored:
        return  # compared through the encoded fingerprint
    now = file_fingerprint(given)
    then = stored["file"]
    if now.get("size") != then.get("size") or now.get("sha256") != then.get("sha256"):
        raise CheckpointError(
            f"{path}: the {which} data differs from the run being resumed: '{given}' has {now['size']} bytes "
            f"(SHA-256 {now['sha256'][:12]}...), the checkpoint was trained on '{stored.get('path')}' with "
            f"{then.get('size')} bytes (SHA-256 {str(then.get('sha256'))[:12]}...)"
        )


def load_checkpoint(cls: type[M], path: PathLike) -> tuple[M, Checkpoint]:
    """Read a checkpoint: (a ``cls`` model with the current weights and history, the run's state).

    Raises
    ------
    MissingFileError, ModelFormatError, CheckpointError (a plain model, or malformed state)
    """
    p = require_file(path, "checkpoint")
    header, arrays = read_model(p)
    model = cls.from_file_content(p, header, arrays)
    if "checkpoint" not in header:
        raise CheckpointError(f"{p}: a model file without training state, not a checkpoint (train it "
                              "with checkpoint=... or --checkpoint to be able to resume)")
    state = _check_state(p, header["checkpoint"])
    if header["checkpoint"].get("has_good"):
        state.good = {k: arrays.get(f"{_GOOD}{k}", v).copy() for k, v in model.weights().items()}
        for k, v in model.weights().items():
            if state.good[k].shape != v.shape or state.good[k].dtype != v.dtype:
                raise ModelFormatError(f"{p}: section {_GOOD}{k} does not match weights.{k}")
    return model, state


def remove_stale_temporaries(path: PathLike) -> None:
    """Remove ``.<name>.*.tmp`` files a killed writer of ``path`` left behind."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    for tmp in directory.glob(f".{target.name}.*.tmp"):
        try:
            tmp.unlink()
            log.info("removed %s, left by an interrupted write", tmp)
        except OSError:
            pass


def check_resumed_data(path: PathLike, data: dict[str, Any], stored: dict[str, Any]) -> None:
    """Compare the encoded fingerprints of the data being trained on with those of the checkpoint."""
    for which, name in (("train", "training"), ("valid", "validation")):
        now, then = data[which], stored.get(which, {})
        if now.get("encoded_sha256") != then.get("encoded_sha256"):
            raise CheckpointError(
                f"{path}: the {name} data encodes differently from the run being resumed "
                f"({now.get('words')} words now, {then.get('words')} then): "
                "resume only with the same data and vocabulary"
            )
