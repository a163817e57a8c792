"""Which trainer runs a training: one process (rnnlm_fast.training.Trainer) or, given an MPI
communicator, all of its processes together (rnnlm_fast.distributed.DistributedTrainer).
``RNNLM.train`` and ``RNNLM.resume`` hand over to here."""

from __future__ import annotations

from typing import Any, Callable, Optional

from . import options, training
from ._files import PathLike
from .training import EpochRecord, Text, Trainer


def train(model: Any, train: Text, valid: Text, *, checkpoint: Optional[PathLike] = None, progress: bool = True,
          callback: Optional[Callable[[EpochRecord], None]] = None, comm: Any = None,
          **given: Any) -> list[EpochRecord]:
    """Body of ``RNNLM.train``."""
    values = options.resolve(options.TRAINING, given, "training option")
    if comm is None:
        return Trainer(model, train, valid, values, checkpoint=checkpoint, progress=progress, callback=callback).run()
    from .distributed import DistributedTrainer

    return DistributedTrainer(model, train, valid, values, comm, checkpoint=checkpoint, progress=progress,
                              callback=callback).run()


def resume(cls: type, path: PathLike, train: Text, valid: Text, *, threads: Optional[int] = None,
           checkpoint: Optional[PathLike] = None, progress: bool = True,
           callback: Optional[Callable[[EpochRecord], None]] = None, comm: Any = None) -> Any:
    """Body of ``RNNLM.resume``."""
    if comm is None:
        return training.resume(cls, path, train, valid, threads=threads, checkpoint=checkpoint, progress=progress,
                               callback=callback)
    from .distributed import resume as resume_distributed

    return resume_distributed(cls, path, train, valid, comm, threads=threads, checkpoint=checkpoint,
                              progress=progress, callback=callback)
