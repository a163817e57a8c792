"""Text -> encoded corpus: word ids, sentence offsets, OOV mapping and reading order.

A model reads text as int32 word ids with int64 sentence offsets (every sentence ends with
``</s>``). Encoding, the mapping of unknown words to ``<unk>`` and the reversal of every
sentence for a backward model happen once, here, in the C++ engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from . import _core
from ._files import PathLike, require_file
from ._progress import counter_callback, make_bar
from .errors import ConfigError
from .vocab import Vocabulary


@dataclass
class Encoded:
    """A text encoded for the engine.

    ``ids`` has unknown words as -1; ``mapped`` has them as ``<unk>`` when the vocabulary
    has it (else it is ``ids``). For a backward model the words of each sentence are stored
    last to first (``</s>`` stays at the end) and ``order[i]`` is the text position of
    stored position i (its own inverse); for a forward model ``order`` is None.
    """

    ids: np.ndarray
    offsets: np.ndarray
    oov: int
    mapped: np.ndarray = field(repr=False)
    order: Optional[np.ndarray] = field(repr=False, default=None)

    @property
    def sentences(self) -> int:
        return len(self.offsets) - 1

    @property
    def backward(self) -> bool:
        return self.order is not None

    def in_text_order(self, per_position: np.ndarray) -> np.ndarray:
        """Per-position values (in stored order) rearranged into the text's word order."""
        return per_position if self.order is None else per_position[self.order]


def encode_file(vocab: Vocabulary, path: PathLike, *, backward: bool = False,
                max_line_bytes: int = _core.DEFAULT_MAX_LINE_BYTES, progress: bool = False) -> Encoded:
    """Encode a text file (C++, streaming; ``.gz`` read transparently) in a model's reading order.

    Raises MissingFileError, CorpusError (empty file, invalid UTF-8, an absurdly long line).
    """
    p = require_file(path, "text file")
    bar = make_bar(progress, p.stat().st_size if not str(p).endswith(".gz") else None,
                   f"reading {p.name}", unit="B")
    try:
        return Encoded(**_core.encode_file(vocab._core, str(p), backward=backward, max_line_bytes=max_line_bytes,
                                           progress=counter_callback(bar)))
    finally:
        if bar is not None:
            bar.close()


def encode_sentences(vocab: Vocabulary, sentences: Sequence[str], *, backward: bool = False) -> Encoded:
    """Encode sentences given as strings of whitespace-separated words."""
    if isinstance(sentences, str):
        raise ConfigError("pass a list of sentences, not a single string")
    sentences = list(sentences)
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise ConfigError(f"sentence {i} is a {type(s).__name__}, expected str")
    return Encoded(**_core.encode_sentences(vocab._core, sentences, backward=backward))
