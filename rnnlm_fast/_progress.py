"""tqdm progress bars fed by the C++ kernels' callbacks (called on the calling thread)."""

from __future__ import annotations

import math
import sys
from typing import Callable, Optional

from tqdm.auto import tqdm


def wanted(quiet: bool) -> bool:
    """Whether a command shows progress bars: not ``quiet``, and stderr a terminal."""
    return not quiet and sys.stderr.isatty()


def make_bar(enabled: bool, total: Optional[int], desc: str, unit: str = "word") -> Optional[tqdm]:
    if not enabled:
        return None
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.2)


def counter_callback(bar: Optional[tqdm]) -> Optional[Callable[[int], bool]]:
    """A callback(done) that moves the bar to ``done``."""
    if bar is None:
        return None

    def update(done: int) -> bool:
        bar.update(done - bar.n)
        return True

    return update


def training_callback(bar: Optional[tqdm]) -> Optional[Callable[[int, float], bool]]:
    """A callback(done, ln-prob sum) that also shows the running train entropy."""
    if bar is None:
        return None

    def update(done: int, logprob: float) -> bool:
        bar.update(done - bar.n)
        if done:
            bar.set_postfix(entropy=f"{-logprob / done / math.log(2):.3f}", refresh=False)
        return True

    return update
