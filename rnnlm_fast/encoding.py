"""Text -> encoded corpus: word ids, sentence offsets, OOV mapping and reading order.

A model reads text as int32 word ids with int64 sentence offsets (every sentence ends with
``</s>``). Encoding, the mapping of unknown words to ``<unk>`` and the reversal of every
sentence for a backward model happen once, here, in the C++ engine.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

import numpy as np

from . import _core
from ._files import PathLike, require_file
from ._progress import counter_callback, make_bar
from .errors import ConfigError, CorpusError, MissingFileError, OovError, OovWarning, VocabularyError
from .options import DEFAULTS, OPTIONS
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
        return Encoded(**_core.encode_file(vocab._core, str(p), backward=backward,
                                           max_line_bytes=max_line_bytes, progress=counter_callback(bar)))
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


# --- text meets a model: case, <s>, and the share of unknown words -----------------------------

CASE_MAPPINGS: dict[str, Callable[[str], str]] = {"keep": lambda s: s, "lower": str.lower, "upper": str.upper}
# When a scored text draws an OovWarning: above OOV_WARN_RATE unknown words once it has at
# least OOV_WARN_MIN of them (a text held out from a count cutoff has 5-15%, e.g. 12.7% on the
# bundled books with min_count 2; one unknown word in a short sentence says nothing), and
# always above CASE_HINT_RATE, where a mapping to lower or upper case that would fix it is named.
OOV_WARN_RATE = 0.2
OOV_WARN_MIN = 10
CASE_HINT_RATE = 0.5
BOS = "<s>"


def case_mapping(case: str) -> Callable[[str], str]:
    """The function mapping text to the model's case: "keep", "lower" or "upper" (ConfigError else)."""
    if not isinstance(case, str) or case not in CASE_MAPPINGS:
        raise ConfigError(f"case must be one of {tuple(CASE_MAPPINGS)}, not {case!r}")
    return CASE_MAPPINGS[case]


def prepare_sentences(vocab: Vocabulary, sentences: Iterable[str], case: str = DEFAULTS["case"]) -> list[str]:
    """Sentences mapped to ``case``, a leading ``<s>`` (the sentence start, KenLM's spelling)
    dropped. ``<s>`` anywhere else, when the vocabulary does not hold it, scores as an unknown
    word: an OovWarning says so. Sentences are checked to be strings (ConfigError)."""
    if isinstance(sentences, str):
        raise ConfigError("pass a list of sentences, not a single string")
    fix = case_mapping(case)
    out = list(sentences)
    for i, s in enumerate(out):
        if not isinstance(s, str):
            raise ConfigError(f"sentence {i} is a {type(s).__name__}, expected str")
    if case != "keep":
        out = [fix(s) for s in out]
    if BOS in vocab:
        return out
    for i, s in enumerate(out):
        if BOS in s:
            words = _core.split_words(s)
            if words and words[0] == BOS:
                words = words[1:]
                out[i] = " ".join(words)
            if BOS in words:
                warnings.warn(f"sentence {i}: '<s>' inside a sentence is not its start; it scores as an "
                              "unknown word", OovWarning, stacklevel=3)
    return out


def encode_checked(vocab: Vocabulary, sentences: Sequence[str], case: str, max_oov_rate: float, *,
                   backward: bool = False, stacklevel: int = 4) -> Encoded:
    """Sentences (a leading <s> dropped, mapped to ``case``) encoded, their OOV rate checked
    (``check_oov_rate``; ``stacklevel`` points its warning at the caller's caller)."""
    sentences = prepare_sentences(vocab, sentences, case)
    enc = encode_sentences(vocab, sentences, backward=backward)
    check_oov_rate(vocab, enc, max_oov_rate, case=case, words=lambda: sample_words(sentences),
                   stacklevel=stacklevel)
    return enc


def oov_policy(vocab: Vocabulary, oov: str) -> str:
    """How unknown words score: "unk" (as ``<unk>``) or "penalty" (``oov_penalty``); "auto"
    picks "unk" when ``vocab`` holds ``<unk>``. VocabularyError for "unk" without one."""
    oov = OPTIONS["oov"].check(oov)
    if oov == "auto":
        return "unk" if vocab.unk_id >= 0 else "penalty"
    if oov == "unk" and vocab.unk_id < 0:
        raise VocabularyError("oov='unk' but the vocabulary has no <unk>; use oov='penalty'")
    return oov


def check_oov_rate(vocab: Vocabulary, enc: Encoded, max_oov_rate: float, *, case: str = DEFAULTS["case"],
                   words: Optional[Callable[[], list[str]]] = None, what: str = "the text",
                   stacklevel: int = 3) -> float:
    """The share of a text's words (``</s>`` not counted) outside the vocabulary. Above
    ``max_oov_rate`` raises OovError; above 20% (with 10 unknown words or more) or 50% warns
    (OovWarning). Above 50%, when mapping
    the words (``words()`` gives a sample) to lower or upper case would put most unknown ones
    in the vocabulary, the message says which ``case`` to pass."""
    max_oov_rate = OPTIONS["max_oov_rate"].check(max_oov_rate)
    n = len(enc.ids) - enc.sentences
    if n <= 0 or enc.oov == 0:
        return 0.0
    rate = enc.oov / n
    if rate <= max_oov_rate and rate <= CASE_HINT_RATE and (rate <= OOV_WARN_RATE or enc.oov < OOV_WARN_MIN):
        return rate
    message = f"{enc.oov} of {n} words ({100 * rate:.1f}%) in {what} are not in the model's vocabulary"
    if rate > CASE_HINT_RATE and words is not None:
        hint = case_hint(vocab, words(), case)
        if hint:
            message += f"; {hint}"
    if rate > max_oov_rate:
        raise OovError(f"{message} (more than max_oov_rate {max_oov_rate:g}: "
                       "the text does not fit the model; "
                       "pass max_oov_rate=1.0 / --max-oov-rate 1 to score it anyway)")
    warnings.warn(message, OovWarning, stacklevel=stacklevel)
    return rate


@contextlib.contextmanager
def oov_warnings_to_stderr() -> Iterator[None]:
    """Print the OovWarnings raised inside as ``rnnlm-fast: warning: ...`` lines on stderr (the
    command line's form) instead of Python's two-line warning; other warnings are re-issued
    as they were, so the caller's warning filters still apply to them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OovWarning)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, OovWarning):
                    print(f"rnnlm-fast: warning: {w.message}", file=sys.stderr)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def case_hint(vocab: Vocabulary, words: Sequence[str], case: str = DEFAULTS["case"]) -> str:
    """'the model's vocabulary is lowercase; pass case='lower'' when mapping the unknown
    ``words`` to that case puts most of them in the vocabulary; '' otherwise."""
    unknown = [w for w in words if w not in vocab]
    if not unknown:
        return ""
    for name in ("lower", "upper"):
        if name == case:
            continue
        fix = CASE_MAPPINGS[name]
        if sum(fix(w) in vocab for w in unknown) > CASE_HINT_RATE * len(unknown):
            return f"the model's vocabulary is {name}case; pass case='{name}' (--case {name})"
    return ""


def sample_words(sentences: Sequence[str], limit: int = 10000) -> list[str]:
    """Up to ``limit`` words of ``sentences``, from the start (for case_hint)."""
    out: list[str] = []
    for s in sentences:
        out.extend(_core.split_words(s))
        if len(out) >= limit:
            break
    return out[:limit]


def decode_lines(data: bytes, name: str) -> list[str]:
    """The lines of UTF-8 text, split at newline bytes only, as the engine's reader splits them
    (``str.splitlines`` would also split at form feeds, U+2028 and the like), a leading BOM
    and trailing ``\\r`` dropped. CorpusError naming ``name``:line and the column for a NUL byte
    or invalid UTF-8, as the engine's reader says it."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    lines = []
    for lineno, raw in enumerate(raw_lines, 1):
        nul = raw.find(b"\0")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if 0 <= nul < e.start:
                raise CorpusError(f"{name}:{lineno}: NUL byte at column {nul + 1}") from None
            raise CorpusError(f"{name}:{lineno}: invalid UTF-8 byte 0x{raw[e.start]:02X} "
                              f"at column {e.start + 1}") from None
        if nul >= 0:
            raise CorpusError(f"{name}:{lineno}: NUL byte at column {nul + 1}")
        lines.append(line.rstrip("\r"))
    return lines


def read_lines(path: PathLike) -> list[str]:
    """The lines of a text file ('-' = stdin; ``.gz`` read transparently), as
    :func:`decode_lines` gives them."""
    if str(path) == "-":
        import sys

        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
        return decode_lines(data, "<stdin>")
    p = require_file(path, "text file")
    data = p.read_bytes()
    if str(p).endswith(".gz"):
        import gzip

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise CorpusError(f"{p}: truncated or corrupt gzip data ({e})") from None
    return decode_lines(data, str(path))


def split_keys(lines: Sequence[str], name: str) -> tuple[list[str], list[str]]:
    """Kaldi's ``text`` lines, 'utt1 the cat sat': (the keys, the sentences after them).
    CorpusError naming ``name``:line for a line without a key."""
    keys, sentences = [], []
    for lineno, line in enumerate(lines, 1):
        fields = line.strip().split(None, 1)
        if not fields:
            raise CorpusError(f"{name}:{lineno}: empty line, expected an utterance key before the words")
        keys.append(fields[0])
        sentences.append(fields[1] if len(fields) > 1 else "")
    return keys, sentences


split_words = _core.split_words  # a line's words, as the engine splits them


def encode_for(vocab: Vocabulary, backward: bool, text: Union[PathLike, Encoded],
               progress: bool = False) -> Encoded:
    """A file encoded for a model of ``vocab`` and reading order, or an Encoded checked to be in
    that reading order."""
    if not isinstance(text, Encoded):
        return encode_file(vocab, text, backward=backward, progress=progress)
    if text.backward != backward:
        raise ConfigError(f"this text was encoded for a {'backward' if text.backward else 'forward'} model; "
                          f"encode it with this {'backward' if backward else 'forward'} model's "
                          "encode_file/encode_sentences")
    return text


def encode_text(vocab: Vocabulary, backward: bool, path: Union[PathLike, Encoded], case: str,
                progress: bool) -> tuple[Encoded, Optional[Callable[[], list[str]]]]:
    """A file (or an Encoded) for a model, mapped to ``case``; and a function giving a sample of
    its words (for the OOV message's case hint)."""
    if isinstance(path, Encoded):
        if case != "keep":
            raise ConfigError("case applies to text; this text is already encoded (encode it with the "
                              "words mapped to the model's case)")
        return encode_for(vocab, backward, path, progress), None
    if isinstance(path, str) and not Path(path).exists():
        raise MissingFileError(f"text file '{path}' does not exist (a str is a file path here; to score "
                               "the text itself pass perplexity(text=...), score(sentence) or "
                               "score([...]), or use rnnlm_fast.kenlm.Model)")
    if case == "keep":
        return encode_for(vocab, backward, path, progress), lambda: sample_words(read_lines(path)[:1000])
    lines = [case_mapping(case)(line) for line in read_lines(path)]
    return encode_sentences(vocab, lines, backward=backward), lambda: sample_words(lines[:1000])
