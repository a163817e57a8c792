"""rnnlm-0.4b's validation-driven learning-rate schedule, as a small state machine.

After each epoch: if validation log-likelihood got worse, the previous weights are restored;
once an epoch improves it by less than a factor ``min_improvement``, the learning rate is
halved every epoch; training stops at the next such epoch or at ``max_epochs``.
Kept apart from the engine so it can be checkpointed and resumed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass
class Schedule:
    lr: float
    min_improvement: float = 1.003
    max_epochs: int = 100
    epoch: int = 0
    halving: bool = False
    previous_logprob: float = -math.inf  # validation log-likelihood of the last epoch
    done: bool = False

    def after_epoch(self, valid_logprob: float) -> bool:
        """Record an epoch's validation log-likelihood (any log base, a negative number).

        Returns whether the epoch's weights are kept (False: restore the previous ones).
        Updates ``lr``, ``done`` and the epoch counter.
        """
        self.epoch += 1
        keep = valid_logprob >= self.previous_logprob
        if valid_logprob * self.min_improvement < self.previous_logprob:
            if self.halving:
                self.done = True
            self.halving = True
        if self.halving and not self.done:
            self.lr /= 2
        self.previous_logprob = valid_logprob
        if self.epoch >= self.max_epochs:
            self.done = True
        return keep

    def state(self) -> dict:
        return asdict(self)
