"""What training, checkpoints and distributed training need of a model, as a protocol.

:class:`rnnlm_fast.RNNLM` is the model that satisfies it; these modules type their model with
:class:`Trainable` instead of importing rnnlm_fast.model, which imports them (the import graph
has no cycle, tests/test_package.py).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import numpy as np

from .vocab import Vocabulary


class Trainable(Protocol):
    """A model as training sees it: its vocabulary, reading direction, cell, seed, weights (the
    engine's model in ``_core``), the recorded training options and history, its file content."""

    vocab: Vocabulary
    seed: int
    history: list
    train_options: dict[str, Any]
    _core: Any

    @property
    def backward(self) -> bool: ...

    @property
    def direction(self) -> str: ...

    @property
    def cell(self) -> str: ...

    def weights(self) -> dict[str, np.ndarray]: ...

    def file_content(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]: ...


M = TypeVar("M", bound=Trainable)  # the model class a checkpoint or rank 0's content is read as
