"""rnnlm-0.4b model files (Mikolov's toolkit; text and ``-binary``): read them as RNNLMs and
write RNNLMs as them.

``load_rnnlm04b(path)`` gives an RNNLM that scores as rnnlm-0.4b does with the file (its
direct connections hashed by rnnlm-0.4b's scheme, ``direct_hash="rnnlm04b"``, its classes
recomputed from the counts as rnnlm-0.4b does, biases zero); ``save_rnnlm04b(model, path)``
writes a sigmoid, forward model (direct connections only with ``direct_hash="rnnlm04b"``),
whose biases are zero or folded into an extra hidden unit (``fold_biases=True``).

Modules: ``layout`` (what a file holds, rnnlm-0.4b's class assignment), ``reader``,
``writer``, ``mapping`` (RNNLM <-> file content).
"""

from __future__ import annotations

from .._files import PathLike
from ..model import RNNLM
from .layout import Rnnlm04bFile, classes_from_counts
from .mapping import from_model, to_model
from .reader import looks_like_rnnlm04b, read_file
from .writer import write_file

__all__ = ["load_rnnlm04b", "save_rnnlm04b", "looks_like_rnnlm04b", "read_file", "write_file", "Rnnlm04bFile",
           "classes_from_counts", "to_model", "from_model"]


def load_rnnlm04b(path: PathLike) -> RNNLM:
    """Read an rnnlm-0.4b model file (text or binary, told apart by its header).

    The model scores as rnnlm-0.4b does with the file, starting each text from the reset
    state (hidden layer 1.0, as rnnlm-0.4b's ``-independent`` mode; without it rnnlm-0.4b
    starts from the activation saved in the file, which changes the first few words only).

    Raises
    ------
    MissingFileError
    ModelFormatError
        A malformed or truncated file (naming the line, or the byte offset in a binary
        file), or a structure rnnlm-fast has not: a compression layer, empty classes.
    """
    return to_model(read_file(path), path)


def save_rnnlm04b(model: RNNLM, path: PathLike, *, binary: bool = False, fold_biases: bool = False) -> None:
    """Write ``model`` as an rnnlm-0.4b model file (``binary``: its ``-binary`` format),
    atomically. Text weights get as many digits as float32 needs, so reading the file back
    gives the same weights.

    ``fold_biases``: a model with non-zero biases (every model rnnlm-fast trains) is written
    with one more hidden unit, held at 1.0, whose outgoing weights are the biases: the
    scores stay the same up to float rounding.

    Raises
    ------
    ModelFormatError
        What rnnlm-0.4b cannot hold: another cell than sigmoid, a backward model, direct
        connections hashed by rnnlm-fast's scheme, word classes rnnlm-0.4b would not recompute
        from the counts, words over 99 bytes, non-zero biases without ``fold_biases``.
    """
    write_file(from_model(model, fold_biases), path, binary=binary)
