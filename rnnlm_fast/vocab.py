"""Vocabulary: frequency-sorted words, word classes, and a readable text file format."""

from __future__ import annotations

import hashlib
import os
from typing import Iterable, Sequence, Union

import numpy as np

from . import _core
from ._files import PathLike, atomic_write, require_file
from ._progress import counter_callback, make_bar
from .errors import CorpusError, VocabularyError, VocabularyMismatchError
from .options import DEFAULTS, VOCABULARY, resolve

EOS = "</s>"
UNK = "<unk>"
#: The engine's whitespace: the characters that separate words; no word contains one.
WHITESPACE: str = _core.WHITESPACE
_HEADER = "# rnnlm-fast vocabulary v1"
_INT64 = (-(1 << 63), (1 << 63) - 1)
_INT32 = (-(1 << 31), (1 << 31) - 1)


class Vocabulary:
    """Words sorted by decreasing count, ``</s>`` first, with contiguous word classes.

    Build one with :meth:`from_corpus` or :meth:`load`; it is immutable.

    Attributes
    ----------
    words : list of str
        Word of each id.
    counts : numpy.ndarray of int64
        Training count of each word.
    word_class : numpy.ndarray of int32
        Class of each word; class ``c`` holds ids ``class_begin[c]:class_begin[c+1]``.
    """

    def __init__(self, words: Sequence[str], counts: Sequence[int], word_class: Sequence[int]):
        """Raises VocabularyError when a word breaks the vocabulary's rules (kept in the C++
        engine): the error's ``word_index`` is the index of that word (None when the error
        is about the whole list) and ``other_word_index`` that of the first of a duplicate."""
        self._core = _core.Vocab(list(words), [int(c) for c in counts], [int(c) for c in word_class])
        self.words: list[str] = self._core.words
        self.counts: np.ndarray = self._core.counts
        self.word_class: np.ndarray = self._core.word_class
        self.class_begin: np.ndarray = self._core.class_begin

    @classmethod
    def _from_core(cls, core: "_core.Vocab") -> "Vocabulary":
        self = cls.__new__(cls)
        self._core = core
        self.words = core.words
        self.counts = core.counts
        self.word_class = core.word_class
        self.class_begin = core.class_begin
        return self

    @classmethod
    def from_corpus(
        cls,
        paths: Union[PathLike, Iterable[PathLike]],
        *,
        min_count: int = DEFAULTS["min_count"],
        max_size: int = DEFAULTS["max_size"],
        classes: int = DEFAULTS["classes"],
        class_method: str = DEFAULTS["class_method"],
        max_line_bytes: int = DEFAULTS["max_line_bytes"],
        progress: bool = False,
    ) -> "Vocabulary":
        """Count the words of one or more text files (``.gz`` read transparently).

        Parameters
        ----------
        paths : path or iterable of paths
            UTF-8 text, one sentence per line, whitespace-separated tokens.
        min_count : int
            Words seen fewer times are mapped to ``<unk>``.
        max_size : int
            Keep at most this many words (``</s>`` and ``<unk>`` included); 0 = no limit.
        classes : int
            Number of word classes for the factored softmax.
        class_method : {"sqrt", "frequency"}
            rnnlm-0.4b's default square-root-of-frequency binning, or its plain-frequency
            "old classes".
        max_line_bytes : int
            Longer lines are rejected as corrupt input.
        progress : bool
            Show a progress bar.

        Raises
        ------
        MissingFileError, CorpusError, ConfigError
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        files = [str(require_file(p, "corpus file")) for p in paths]
        if not files:
            raise VocabularyError("no corpus files given")
        o = resolve(VOCABULARY, dict(min_count=min_count, max_size=max_size, classes=classes,
                                     class_method=class_method, max_line_bytes=max_line_bytes),
                    "vocabulary option")
        bar = make_bar(progress, None, "counting words", unit="B")
        try:
            core, tokens, lines, distinct = _core.build_vocab(
                files, o["min_count"], o["max_size"], o["classes"], o["class_method"], o["max_line_bytes"],
                counter_callback(bar)
            )
        finally:
            if bar is not None:
                bar.close()
        if tokens <= lines:  # only blank lines (tokens count each </s>): nothing to model
            raise CorpusError(f"{', '.join(files)}: no words, only {lines} empty line(s)")
        vocab = cls._from_core(core)
        vocab.corpus_tokens = tokens
        vocab.corpus_lines = lines
        vocab.corpus_distinct = distinct
        return vocab

    # --- lookups ---------------------------------------------------------------------
    def __len__(self) -> int:
        return self._core.size

    def __contains__(self, word: str) -> bool:
        return self._core.id(word) >= 0

    def __getitem__(self, word: str) -> int:
        i = self._core.id(word)
        if i < 0:
            raise KeyError(word)
        return i

    def get(self, word: str, default: int = -1) -> int:
        """Id of ``word``, or ``default`` when it is not in the vocabulary."""
        i = self._core.id(word)
        return default if i < 0 else i

    @property
    def size(self) -> int:
        return self._core.size

    @property
    def n_classes(self) -> int:
        return self._core.n_classes

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>``, or -1 when the vocabulary has none."""
        return self._core.unk_id

    def fingerprint(self) -> str:
        """SHA-256 of the word list: equal fingerprints mean the same ids for the same words."""
        h = hashlib.sha256()
        for w in self.words:
            h.update(w.encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    def with_classes(self, classes: int, class_method: str = DEFAULTS["class_method"]) -> "Vocabulary":
        """The same words and counts with a different number of classes."""
        o = resolve(("classes", "class_method"), dict(classes=classes, class_method=class_method),
                    "vocabulary option")
        cls_ids = _core.assign_classes(self.counts.tolist(), o["classes"], o["class_method"])
        return Vocabulary(self.words, self.counts, cls_ids)

    def check_same(self, other: "Vocabulary", what: str = "vocabulary") -> None:
        """Raise VocabularyMismatchError unless ``other`` has exactly the same words and ids."""
        if self.words == other.words:
            return
        first = next((i for i, (a, b) in enumerate(zip(self.words, other.words)) if a != b),
                     min(len(self), len(other)))
        theirs = repr(other.words[first]) if first < len(other) else "no word"
        ours = repr(self.words[first]) if first < len(self) else "no word"
        sizes = "" if len(self) == len(other) else f" ({len(other)} words, the model has {len(self)})"
        raise VocabularyMismatchError(
            f"{what} differs from the model's vocabulary at id {first}: {theirs} instead of {ours}{sizes}"
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.words == other.words
            and np.array_equal(self.counts, other.counts)
            and np.array_equal(self.word_class, other.word_class)
        )

    def __repr__(self) -> str:
        return (f"Vocabulary({len(self)} words, {self.n_classes} classes, "
                f"unk={'yes' if self.unk_id >= 0 else 'no'})")

    # --- text file -------------------------------------------------------------------
    def save(self, path: PathLike) -> None:
        """Write ``id<TAB>word<TAB>count<TAB>class`` lines after a header, atomically."""
        with atomic_write(path, "w", encoding="utf-8") as f:
            f.write(f"{_HEADER}\n# words={len(self)} classes={self.n_classes}\n")
            for i, (w, c, k) in enumerate(zip(self.words, self.counts.tolist(), self.word_class.tolist())):
                f.write(f"{i}\t{w}\t{c}\t{k}\n")

    @classmethod
    def load(cls, path: PathLike) -> "Vocabulary":
        """Read a file written by :meth:`save`.

        This reads the file format (header, four tab-separated fields, integers, ids in
        order); the vocabulary's rules are the engine's, and an error about a word is
        reported at that word's line.

        Raises
        ------
        MissingFileError, VocabularyError
            The message names the file and line of the first problem.
        """
        p = require_file(path, "vocabulary file")
        words: list[str] = []
        counts: list[int] = []
        classes: list[int] = []
        lines: list[int] = []  # line of each word
        with open(p, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                where = f"{p}:{lineno}"
                if lineno == 1:  # checked as bytes, so a binary file is "not a vocabulary", not "bad UTF-8"
                    if raw.rstrip(b"\n").rstrip(b"\r") != _HEADER.encode():
                        raise VocabularyError(f"{where}: not an rnnlm-fast vocabulary (expected {_HEADER!r})")
                    continue
                try:
                    line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
                except UnicodeDecodeError as e:
                    raise VocabularyError(f"{where}: invalid UTF-8 at byte {e.start}") from None
                if line.startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) != 4:
                    raise VocabularyError(f"{where}: expected 'id<TAB>word<TAB>count<TAB>class', "
                                          f"found {len(fields)} fields")
                try:
                    idx, count, cls_id = int(fields[0]), int(fields[2]), int(fields[3])
                except ValueError:
                    raise VocabularyError(f"{where}: id, count and class must be integers") from None
                if idx != len(words):
                    raise VocabularyError(f"{where}: expected id {len(words)}, found {idx}")
                if not _INT64[0] <= count <= _INT64[1]:
                    raise VocabularyError(f"{where}: count {count} of word {idx} does not fit in 64 bits")
                if not _INT32[0] <= cls_id <= _INT32[1]:
                    raise VocabularyError(f"{where}: class {cls_id} of word {idx} does not fit in 32 bits")
                words.append(fields[1])
                counts.append(count)
                classes.append(cls_id)
                lines.append(lineno)
        try:
            return cls(words, counts, classes)
        except VocabularyError as e:
            raise _at_lines(e, p, lines) from None


def _at_lines(e: VocabularyError, path: os.PathLike, lines: list[int]) -> VocabularyError:
    """The engine's error about word ``e.word_index`` re-raised at that word's line of ``path``
    (and, for a duplicate, with the line of its first occurrence)."""
    i = getattr(e, "word_index", None)
    j = getattr(e, "other_word_index", None)
    where = f"{path}:{lines[i]}" if i is not None else f"{path}"
    also = f" at line {lines[j]}" if j is not None else ""
    err = VocabularyError(f"{where}: {e}{also}")
    err.word_index, err.other_word_index = i, j
    return err
