"""N-best lists: read and write five formats, score with LMs, combine, tune, rescore, WER.

Modules, one job each: ``lists`` (the data model), ``rnnlm_format``, ``kaldi``, ``espnet``,
``srilm``, ``tsv`` (one format each; ``_io`` holds what they share), ``text`` (references
and 1-best files), ``formats`` (``FORMATS``, detection, ``read_nbest``/``write_nbest``),
``wer``, ``tune`` (combination weights and their grid search), ``scoring`` (LM scores,
``rescore`` and its outputs), ``outputs`` (the rescored lists in every format), and the
command line's ``checks`` (what is refused before scoring), ``report`` and ``cli``
(``rnnlm-fast rescore``). Every score held in
memory is a NATURAL-LOG probability, higher is better.
"""

from __future__ import annotations

from rnnlm_fast.deprecation import deprecated
from rnnlm_fast.units import LN10

from .combine import NbestFeatures, Weights, build_features, combine_scores, select_best
from .espnet import read_espnet_nbest, write_espnet_nbest
from .formats import FORMATS, detect_format, read_nbest, write_nbest
from .kaldi import read_kaldi_nbest, write_kaldi_nbest
from .lists import AM, LM, Hypothesis, NbestList
from .outputs import OUTPUT_FORMATS, write_rescored
from .rnnlm_format import read_rnnlm_nbest, write_rnnlm_nbest
from .scoring import (
    lm_log_probs,
    mix_scores,
    mixture_weights,
    oov_counts,
    rescore,
    rescored_lists,
    score_lists,
    write_one_best,
    write_rescored_tsv,
)
from .srilm import SrilmStyle, bytelog_to_ln, ln_to_bytelog, read_srilm_nbest, write_srilm_nbest
from .text import read_text, write_text
from .tsv import read_tsv_nbest, write_tsv_nbest
from .tune import (
    DEFAULT_GAMMA_GRID,
    DEFAULT_LAM_GRID,
    DEFAULT_MU_GRID,
    DEFAULT_NGRAM_GRID,
    DEFAULT_WORD_BONUS_GRID,
    TuneResult,
    tune_weights,
)
from .wer import SENTENCE_MARKS, count_words, hypothesis_errors, oracle_wer, word_error_rate

__all__ = [
    "AM",
    "DEFAULT_GAMMA_GRID",
    "DEFAULT_LAM_GRID",
    "DEFAULT_MU_GRID",
    "DEFAULT_NGRAM_GRID",
    "DEFAULT_WORD_BONUS_GRID",
    "FORMATS",
    "LM",
    "LN10",
    "OUTPUT_FORMATS",
    "SENTENCE_MARKS",
    "Hypothesis",
    "NbestFeatures",
    "NbestList",
    "SrilmStyle",
    "TuneResult",
    "Weights",
    "build_features",
    "bytelog_to_ln",
    "combine_scores",
    "count_words",
    "detect_format",
    "hypothesis_errors",
    "lm_log_probs",
    "ln_to_bytelog",
    "mix_scores",
    "mixture_weights",
    "oov_counts",
    "oracle_wer",
    "read_espnet_nbest",
    "read_kaldi_nbest",
    "read_nbest",
    "read_rnnlm_nbest",
    "read_srilm_nbest",
    "read_text",
    "read_tsv_nbest",
    "rescore",
    "rescored_lists",
    "score_lists",
    "select_best",
    "tune_weights",
    "word_error_rate",
    "write_espnet_nbest",
    "write_kaldi_nbest",
    "write_nbest",
    "write_one_best",
    "write_rescored",
    "write_rescored_tsv",
    "write_rnnlm_nbest",
    "write_srilm_nbest",
    "write_text",
    "write_tsv_nbest",
]

_RENAMED = {"DEFAULT_BETA_GRID": "DEFAULT_WORD_BONUS_GRID"}


def __getattr__(name: str) -> object:
    """Old names, with a DeprecationWarning."""
    if name in _RENAMED:
        new = _RENAMED[name]
        deprecated(f"rnnlm_fast.nbest.{name} is deprecated; use {new}")
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
