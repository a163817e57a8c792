"""Training checkpoints: write one at the end of every epoch, resume from it.

A checkpoint is an ordinary model file (so ``RNNLM.load`` opens it as a model) with one
more header key, ``checkpoint``, and, only when they differ from the current weights,
``checkpoint.good.*`` sections holding the last good weights. The ``checkpoint`` key holds:

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np

from ._files import PathLike, require_file
from .errors import CheckpointError, ModelFormatError
from .model_file import capture_reads, extra_content
from .schedule import Schedule

if TYPE_CHECKING:  # pragma: no cover
    from .model import RNNLM, Encoded, EpochRecord

log = logging.getLogger("rnnlm_fast")

CHECKPOINT_VERSION = 1
_GOOD = "checkpoint.good."
_FULL_HASH_LIMIT = 16 << 20
_EDGE = 1 << 20
# The options a checkpoint records and resume passes back to RNNLM.train, with their types.
OPTIONS = {"lr": float, "beta": float, "bptt": int, "bptt_block": int, "independent": bool,
           "gradient_cutoff": float, "min_improvement": float, "max_epochs": int, "threads": int,
           "on_divergence": str, "max_rollbacks": int, "dropout": float,
           "input_dropout": float}
# Options added after version 1 checkpoints were first written, with the value that older
# checkpoints imply.
OPTION_DEFAULTS = {"dropout": 0.0, "input_dropout": 0.0}


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


def encoded_fingerprint(enc: "Encoded") -> str:
    """SHA-256 of the ids the engine trains on (unknown words mapped) and the sentence offsets."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(enc.mapped, dtype=np.int32).tobytes())
    h.update(np.ascontiguousarray(enc.offsets, dtype=np.int64).tobytes())
    return h.hexdigest()


def data_fingerprint(source: Union[PathLike, "Encoded"], enc: "Encoded") -> dict[str, Any]:
    fp: dict[str, Any] = {"encoded_sha256": encoded_fingerprint(enc), "words": int(len(enc.ids))}
    if isinstance(source, (str, os.PathLike)):
        fp["path"] = str(source)
        fp["file"] = file_fingerprint(source)
    return fp


class Checkpointer:
    """Writes the checkpoint of a training run after each epoch (used by ``RNNLM.train``)."""

    def __init__(self, path: PathLike, options: dict[str, Any], data: dict[str, Any]):
        self.path = Path(path)
        self.options = options
        self.data = data

    def save(self, model: "RNNLM", schedule: Schedule, rollbacks: int, good: dict[str, np.ndarray]) -> None:
        """Write the model with its schedule state atomically; the last good weights are
        stored only when they differ from the current ones."""
        current = model.weights()
        extra_arrays = {f"{_GOOD}{k}": v for k, v in good.items() if not np.array_equal(v, current[k])}
        state = {
            "version": CHECKPOINT_VERSION,
            "schedule": schedule.state(),
            "rollbacks": int(rollbacks),
            "options": self.options,
            "data": self.data,
            "has_good": bool(extra_arrays),
        }
        with extra_content({"checkpoint": state}, extra_arrays):
            model.save(self.path)


def _check_state(path: Path, state: Any) -> dict[str, Any]:
    """Validate the ``checkpoint`` header key's types (the file's checksums passed already)."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: malformed checkpoint state")
    if state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state.get('version')!r}, this rnnlm-fast reads "
                              f"{CHECKPOINT_VERSION}")
    sched, opts, data = state.get("schedule"), state.get("options"), state.get("data")
    if isinstance(opts, dict):
        opts = state["options"] = {**OPTION_DEFAULTS, **opts}
    fields = {"lr": float, "min_improvement": float, "max_epochs": int, "epoch": int, "halving": bool,
              "previous_logprob": float, "done": bool}
    ok = (isinstance(sched, dict) and set(sched) == set(fields)
          and all(_typed(sched[k], t) for k, t in fields.items())
          and isinstance(opts, dict) and set(opts) == set(OPTIONS)
          and all(_typed(opts[k], t) for k, t in OPTIONS.items())
          and isinstance(data, dict)
          and isinstance(data.get("train"), dict) and isinstance(data.get("valid"), dict)
          and type(state.get("rollbacks")) is int and state["rollbacks"] >= 0)
    if not ok:
        raise CheckpointError(f"{path}: malformed checkpoint state (schedule, options or data fingerprints)")
    if not (math.isfinite(sched["lr"]) and sched["lr"] > 0 and sched["epoch"] >= 0):
        raise CheckpointError(f"{path}: checkpoint schedule has an invalid learning rate or epoch")
    return state


def _check_file(path: Path, which: str, given: Union[PathLike, "Encoded"], stored: dict[str, Any]) -> None:
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


def load_checkpoint(
    cls: type, path: PathLike
) -> tuple["RNNLM", dict[str, Any], Optional[dict[str, np.ndarray]]]:
    """Read a checkpoint: (model with the current weights and history, checkpoint state, last good weights
    or None when they are the current ones).

    Raises
    ------
    MissingFileError, ModelFormatError, CheckpointError (a plain model, or malformed state)
    """
    p = require_file(path, "checkpoint")
    with capture_reads() as got:
        model = cls.load(p)
    header, arrays = got[-1]
    if "checkpoint" not in header:
        raise CheckpointError(f"{p}: a model file without training state, not a checkpoint (train it "
                              "with checkpoint=... or --checkpoint to be able to resume)")
    state = _check_state(p, header["checkpoint"])
    good = None
    if state.get("has_good"):
        good = {k: arrays.get(f"{_GOOD}{k}", v).copy() for k, v in model.weights().items()}
        for k, v in model.weights().items():
            if good[k].shape != v.shape or good[k].dtype != v.dtype:
                raise ModelFormatError(f"{p}: section {_GOOD}{k} does not match weights.{k}")
    return model, state, good


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


def resume(cls: type, path: PathLike, train: Union[PathLike, "Encoded"], valid: Union[PathLike, "Encoded"], *,
           threads: Optional[int] = None, checkpoint: Optional[PathLike] = None, progress: bool = True,
           callback: Optional[Callable[["EpochRecord"], None]] = None) -> "RNNLM":
    """Body of :meth:`RNNLM.resume` (see there)."""
    model, state, good = load_checkpoint(cls, path)
    _check_file(Path(path), "training", train, state["data"]["train"])
    _check_file(Path(path), "validation", valid, state["data"]["valid"])
    options = dict(state["options"])
    if threads is not None:
        options["threads"] = threads
    target = Path(path) if checkpoint is None else Path(checkpoint)
    remove_stale_temporaries(target)
    resume_state = {"schedule": state["schedule"], "rollbacks": state["rollbacks"], "good": good,
                    "data": state["data"]}
    model.train(train, valid, progress=progress, callback=callback, checkpoint=target, _resume=resume_state,
                **options)
    return model


def check_resumed_data(path: Path, data: dict[str, Any], stored: dict[str, Any]) -> None:
    """Compare the encoded fingerprints of the data being trained on with those of the checkpoint."""
    for which, name in (("train", "training"), ("valid", "validation")):
        now, then = data[which], stored.get(which, {})
        if now.get("encoded_sha256") != then.get("encoded_sha256"):
            raise CheckpointError(
                f"{path}: the {name} data encodes differently from the run being resumed "
                f"({now.get('words')} words now, {then.get('words')} then): "
                "resume only with the same data and vocabulary"
            )
