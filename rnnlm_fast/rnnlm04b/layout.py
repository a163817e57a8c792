"""What an rnnlm-0.4b model file holds (:class:`Rnnlm04bFile`), its header lines, and the word
classes rnnlm-0.4b computes from the counts when it loads a model.

Both formats start with the same text: a header of ``key: value`` lines, then ``Vocabulary:``
and one ``index<TAB>count<TAB>word<TAB>class`` line per word (``</s>`` is word 0). Then

- text (``file format: 0``): titled sections of one number per line: ``Hidden layer
  activation:`` (H), ``Weights 0->1:`` (H rows of V + H: each hidden unit's weights from
  the V input words, then from the H previous hidden units), ``Weights 1->2:`` (V + C rows
  of H: the words' output rows, then the classes'), ``Direct connections:`` (D);
- binary (``-binary``, ``file format: 1``): the same arrays as float32 (little-endian), from
  the byte after the last vocabulary line's newline to the end of the file, untitled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelFormatError

VERSION = 10  # what rnnlm-0.3e and rnnlm-0.4b write and read
MAX_ORDER = 20  # rnnlm-0.4b's MAX_NGRAM_ORDER
MAX_WORD_BYTES = 99  # rnnlm-0.4b cuts longer words (MAX_STRING - 1)
INT32_MAX = (1 << 31) - 1

# The header lines in rnnlm-0.4b's order ("" is a blank line): key, and the attribute of
# Rnnlm04bFile that it holds (None: kept as text in Rnnlm04bFile.info).
HEADER = (
    ("version", None), ("file format", None), ("", None),
    ("training data file", None), ("validation data file", None), ("", None),
    ("last probability of validation data", None), ("number of finished iterations", None),
    ("current position in training data", None), ("current probability of training data", None),
    ("save after processing # words", None), ("# of training words", None),
    ("input layer size", None), ("hidden layer size", None), ("compression layer size", None),
    ("output layer size", None), ("direct connections", None), ("direct order", "direct_order"),
    ("bptt", "bptt"), ("bptt block", "bptt_block"), ("vocabulary size", None), ("class size", "n_classes"),
    ("old classes", "old_classes"), ("independent sentences mode", "independent"),
    ("starting learning rate", "starting_lr"), ("current learning rate", "lr"),
    ("learning rate decrease", "lr_decrease"), ("", None), ("", None),
)
# Defaults of the informational lines (rnnlm-0.4b's values for a fresh network).
INFO_DEFAULTS = {
    "training data file": "unknown", "validation data file": "unknown",
    "last probability of validation data": "-100000000.000000", "number of finished iterations": "0",
    "current position in training data": "0", "current probability of training data": "0.000000",
    "save after processing # words": "0", "# of training words": "0",
}
SECTIONS = ("Hidden layer activation:", "Weights 0->1:", "Weights 1->2:", "Direct connections:")


@dataclass
class Rnnlm04bFile:
    """The content of an rnnlm-0.4b model file (V words, H hidden units, C classes, D direct
    weights), arrays as the file lays them out."""

    words: list[str]
    counts: np.ndarray  # int64 (V,): each word's training count
    word_class: np.ndarray  # int32 (V,): the file's class column (rnnlm-0.4b recomputes it)
    hidden_state: np.ndarray  # float32 (H,): the hidden layer's activation when it was saved
    syn0: np.ndarray  # float32 (H, V + H): input word one-hot, then previous hidden layer
    syn1: np.ndarray  # float32 (V + C, H): words' output rows, then classes'
    direct: np.ndarray  # float32 (D,): the hashed n-gram (max-ent) weights
    n_classes: int
    direct_order: int = 0
    old_classes: bool = False
    independent: bool = False
    bptt: int = 0
    bptt_block: int = 10
    starting_lr: float = 0.1
    lr: float = 0.1
    lr_decrease: bool = False
    binary: bool = False
    info: dict[str, str] = field(default_factory=dict)  # the other header lines, as text
    vocab_line: int = 0  # line number of the first vocabulary entry (0: not read from a file)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @property
    def hidden(self) -> int:
        return int(self.syn0.shape[0])

    @property
    def direct_size(self) -> int:
        return int(self.direct.shape[0])


def classes_from_counts(counts: np.ndarray, n_classes: int, old_classes: bool, where: str = "") -> np.ndarray:
    """The class of each word as rnnlm-0.4b assigns it when it builds or loads a network
    (``initNet``): words in id order are binned by the running share of sqrt(count) (or of
    the count, with ``old_classes``), in double precision over the 32-bit integer total of
    the counts; a bin boundary moves the class on by at most one per word.

    Raises ModelFormatError (prefixed by ``where``) when the counts are unusable: no total,
    or a total past rnnlm-0.4b's 32-bit integer.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total <= 0 or total > INT32_MAX:
        raise ModelFormatError(f"{where}the word counts sum to {total}; rnnlm-0.4b's class assignment needs "
                               f"a total in 1..{INT32_MAX} (a 32-bit int)")
    share = counts / float(total)
    if not old_classes:
        share = np.sqrt(share)
        share = share / np.cumsum(share)[-1]  # the sum taken word by word, as rnnlm-0.4b does
    running = np.cumsum(share)  # sequential double additions, as the C loop
    out = np.empty(len(counts), dtype=np.int32)
    pos, a = 0, 0
    while a < n_classes - 1 and pos < len(counts):
        # the first word at or after `pos` whose running share passes the class's upper bound
        # ends the class (it is still in it); the class moves on by one
        end = max(pos, int(np.searchsorted(running, (a + 1) / float(n_classes), side="right")))
        if end >= len(counts):
            break
        out[pos:end + 1] = a
        pos, a = end + 1, a + 1
    out[pos:] = a
    return out
