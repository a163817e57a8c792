"""The exception hierarchy (rnnlm_fast/errors.py). Each error path is tested in the file of the
module that raises it (test_files, test_encoding, test_vocab, test_model_file, test_options, ...)."""

from __future__ import annotations

from rnnlm_fast import (
    ConfigError,
    CorpusError,
    DivergenceError,
    FormatVersionError,
    MissingFileError,
    ModelFormatError,
    RnnlmError,
    VocabularyError,
    VocabularyMismatchError,
)


def test_error_hierarchy():
    assert issubclass(MissingFileError, FileNotFoundError) and issubclass(MissingFileError, RnnlmError)
    assert issubclass(FormatVersionError, ModelFormatError)
    assert issubclass(VocabularyMismatchError, VocabularyError)
    for cls in (CorpusError, ModelFormatError, VocabularyError, ConfigError):
        assert issubclass(cls, ValueError) and issubclass(cls, RnnlmError)
    assert issubclass(DivergenceError, ArithmeticError)
