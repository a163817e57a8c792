"""rnnlm-0.4b's validation-driven learning-rate schedule, as a small state machine.

After each epoch: if validation log-likelihood got worse, the previous weights are restored;
once an epoch improves it by less than a factor ``min_improvement``, the learning rate is
halved every epoch (divided by ``lr_decay``, 2 by default); training stops at the next such epoch
or at ``max_epochs``.

Stopping options for long runs (all off by default, which is rnnlm-0.4b's schedule exactly):
``patience`` poor epochs in a row are tolerated before halving starts and again before
training stops (dropout makes single epochs noisy); ``min_lr`` stops training once halving
takes the rate below it; ``time_budget`` (seconds of training, validation and checkpoint
writes) starts the halving phase when only ``budget_halvings`` epochs of the budget are left,
and starts no epoch that would not end within it (the last epoch's time is the estimate; a
resumed run whose budget is spent stops before its next epoch, :meth:`before_epoch`).
Kept apart from the engine so it can be checkpointed and resumed; the defaults are the options
table's (rnnlm_fast/options.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .options import DEFAULTS


@dataclass
class Schedule:
    lr: float
    min_improvement: float = DEFAULTS["min_improvement"]
    max_epochs: int = DEFAULTS["max_epochs"]
    lr_decay: float = DEFAULTS["lr_decay"]  # the halving phase divides lr by this each epoch
    epoch: int = 0
    halving: bool = False
    previous_logprob: float = -math.inf  # validation log-likelihood of the last epoch
    done: bool = False
    patience: int = DEFAULTS["patience"]
    min_lr: float = DEFAULTS["min_lr"]
    time_budget: float = DEFAULTS["time_budget"]  # seconds; 0: none
    budget_halvings: int = DEFAULTS["budget_halvings"]
    poor_epochs: int = 0  # epochs in a row below min_improvement, since the last phase change
    elapsed: float = 0.0  # seconds of training and validation so far (rollbacks included)
    stop_reason: str = ""

    def after_epoch(self, valid_logprob: float, seconds: float = 0.0) -> bool:
        """Record an epoch's validation log-likelihood (any log base, a negative number) and
        the seconds it took (training and validation).

        Returns whether the epoch's weights are kept (False: restore the previous ones).
        Updates ``lr``, ``done`` (with ``stop_reason``) and the epoch counter.
        """
        self.epoch += 1
        self.elapsed += seconds
        keep = valid_logprob >= self.previous_logprob
        if valid_logprob * self.min_improvement < self.previous_logprob:
            self.poor_epochs += 1
            if self.poor_epochs > self.patience:
                self.poor_epochs = 0
                if self.halving:
                    self._stop("converged: the gain while halving fell below min_improvement")
                self.halving = True
        else:
            self.poor_epochs = 0
        if self.time_budget > 0 and not self.done:
            left = self.time_budget - self.elapsed
            if left < seconds:
                self._stop("time budget: another epoch would not end within it")
            elif not self.halving and left < (self.budget_halvings + 1) * seconds:
                self.halving = True  # what is left of the budget goes to the halving phase
                self.poor_epochs = 0
        if self.halving and not self.done:
            self.lr /= self.lr_decay
            if self.lr < self.min_lr:
                self._stop("the learning rate fell below min_lr")
        self.previous_logprob = valid_logprob
        if self.epoch >= self.max_epochs:
            self._stop("max_epochs")
        return keep

    def before_epoch(self) -> bool:
        """Whether another epoch may start: a run whose time budget is spent (a resumed one) stops."""
        if self.time_budget > 0 and self.elapsed >= self.time_budget:
            self._stop("time budget: spent before the epoch started")
        return not self.done

    def _stop(self, reason: str) -> None:
        if not self.done:
            self.done, self.stop_reason = True, reason

    def state(self) -> dict:
        return asdict(self)
