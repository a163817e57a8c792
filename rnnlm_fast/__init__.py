"""rnnlm-fast: Mikolov-style recurrent neural network language models on multicore CPUs.

The public API::

    from rnnlm_fast import Vocabulary, RNNLM
    vocab = Vocabulary.from_corpus("train.txt", classes=100)
    model = RNNLM(vocab, hidden=200)
    model.train("train.txt", "valid.txt")
    model.perplexity("test.txt"), model.score(["a sentence"]), model.save("lm.rnnlm")
"""

# Loads OpenBLAS (the package's own loader, RTLD_GLOBAL) before anything imports the extension that links
# it: found so wherever pip put the package (editable, --user, --target installs); docs/blas.md.
import scipy_openblas32  # noqa: F401

from . import errors
from .errors import *  # noqa: F403  (the exception hierarchy is public: errors.__all__)
from .kenlm_api import State
from .model import RNNLM, PerplexityResult
from .rnnlm04b import load_rnnlm04b, save_rnnlm04b
from .training import EpochRecord, EpochStats, Trainer
from .vocab import Vocabulary

__version__ = "0.1.0"

__all__ = ["RNNLM", "Vocabulary", "EpochRecord", "EpochStats", "Trainer", "PerplexityResult", "State",
           *errors.__all__, "load_rnnlm04b", "save_rnnlm04b", "__version__"]
