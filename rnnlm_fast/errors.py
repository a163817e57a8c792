"""The one exception hierarchy of rnnlm-fast.

Every error the package raises on bad input is one of these, so callers can catch
``RnnlmError`` (or the built-in base they also derive from) without parsing messages.
The C++ engine's typed errors are mapped onto these classes in ``csrc/bindings.cc``.
"""

from __future__ import annotations

__all__ = [
    "RnnlmError",
    "CorpusError",
    "MissingFileError",
    "ModelFormatError",
    "FormatVersionError",
    "VocabularyError",
    "VocabularyMismatchError",
    "OovError",
    "OovWarning",
    "ConfigError",
    "DivergenceError",
    "NbestFormatError",
    "CheckpointError",
]


class RnnlmError(Exception):
    """Base class of every error raised by rnnlm-fast."""


class CorpusError(RnnlmError, ValueError):
    """A text corpus cannot be read: empty, invalid UTF-8, an absurd line, ...

    The message names the file and the line (and byte offset where it applies).
    """


class MissingFileError(RnnlmError, FileNotFoundError):
    """An input file does not exist or cannot be opened."""


class ModelFormatError(RnnlmError, ValueError):
    """A model file is not a valid rnnlm-fast model (truncated, corrupted, foreign)."""


class FormatVersionError(ModelFormatError):
    """A model file was written by a newer, unknown format version."""


class VocabularyError(RnnlmError, ValueError):
    """A vocabulary file is malformed, or vocabulary options are inconsistent."""


class VocabularyMismatchError(VocabularyError):
    """A model and a vocabulary (or two models) do not agree on their words."""


class OovError(VocabularyMismatchError):
    """Nearly every word of a text is outside the model's vocabulary (more than
    ``max_oov_rate``): the text and the model do not belong together (a case mismatch, another
    language, another tokenisation). Pass ``max_oov_rate=1.0`` to score it anyway."""


class OovWarning(UserWarning):
    """Many words of a scored text are outside the model's vocabulary (above 20%, or 50% in a short
    text), or ``<s>`` stands inside a sentence; the message names a case mismatch when there is one."""


class ConfigError(RnnlmError, ValueError):
    """An option has an invalid value or options contradict each other."""


class DivergenceError(RnnlmError, ArithmeticError):
    """Training produced NaN or Inf and could not recover."""


class NbestFormatError(RnnlmError, ValueError):
    """An n-best list file is malformed; the message names the file and line."""


class CheckpointError(RnnlmError, ValueError):
    """A training checkpoint cannot be resumed: a plain model, malformed training state,
    or data that differs from the run that wrote it."""
