"""The search behind ``tune_weights``: vectorised grid evaluation, the default ranges' scale,
automatic extension beyond an edge, the fine pass's grids and coordinate line searches.

A point is (lam, word_bonus, mu, gamma, ngram); its cost is the corpus word errors, then the
sentence errors, of each utterance's best hypothesis under ``tune.combine_scores``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class NbestFeatures(Protocol):
    """What the search reads of ``tune.NbestFeatures`` (not imported: tune imports this module)."""

    am: np.ndarray
    lm: np.ndarray
    n_words: np.ndarray
    old_lm: np.ndarray | None
    n_oov: np.ndarray | None
    ngram: np.ndarray | None
    dense: np.ndarray


__all__ = [
    "TUNE_LIMITS",
    "WEIGHT_NAMES",
    "Search",
    "axis",
    "local_step",
    "refine_axis",
    "score_scale",
    "tidy",
]

_FINE_POINTS = 11
# Hard limits of the automatic search (times ``score_scale``): generous, so that a weight
# ending on one is worth a warning. lam and mu stop at 0: a negative LM weight rewards
# what the LM finds unlikely.
TUNE_LIMITS = {"lam": (0.0, 50.0), "word_bonus": (-50.0, 50.0), "mu": (0.0, 50.0), "gamma": (-200.0, 50.0),
               "ngram": (0.0, 50.0)}
WEIGHT_NAMES = ("lam", "word_bonus", "mu", "gamma", "ngram")
_N = len(WEIGHT_NAMES)  # a point: the weights, then its word errors and sentence errors
_EXTEND_POINTS = 10  # points added beyond an edge per extension round
# A line search's offsets in fine steps: every step to 10, then every 5th to 60, each side.
_LINE_OFFSETS = np.concatenate([-np.arange(60, 10, -5), np.arange(-10, 11), np.arange(15, 61, 5)]).astype(
    float
)
# Directions in the plane of each pair of weights, in fine steps: a fan of slopes, so that a
# line search can follow a diagonal ridge.
_DIAGONALS = tuple(
    (a, sign * b)
    for a, b in ((1, 1), (2, 1), (1, 2), (3, 1), (1, 3), (3, 2), (2, 3), (4, 1), (1, 4))
    for sign in (1, -1)
)
_PATTERN_STEPS = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0])  # multiples of a round's move
_LINE_ROUNDS = 30  # at most this many rounds of line searches
_CHUNK_ELEMENTS = 1 << 18  # bounds the (grid, utt, hyp) score tensors to ~2 MB each (cache-sized)


class _Dense:
    """The features and word errors in the (utterance, hypothesis) layout of ``features.dense``,
    gathered once so that a grid point costs arithmetic and one argmax, no gather. Padding
    has first-pass score -inf and 0 for every other feature, so it is never chosen."""

    def __init__(self, features: NbestFeatures, errors: np.ndarray) -> None:
        pad = features.dense < 0
        index = np.where(pad, 0, features.dense)

        def gather(x: np.ndarray | None, fill: float = 0.0) -> np.ndarray | None:
            return None if x is None else np.where(pad, fill, x[index])

        self.am = gather(features.am, -np.inf)
        self.lm, self.n_words = gather(features.lm), gather(features.n_words)
        self.old_lm, self.n_oov = gather(features.old_lm), gather(features.n_oov)
        self.ngram = gather(features.ngram)
        self.errors = np.asarray(errors)[index]
        self.chunk = max(1, _CHUNK_ELEMENTS // max(1, pad.size))

    def evaluate(self, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Corpus word errors and sentence errors of each (lam, word_bonus, mu, gamma, ngram) row of ``grid``.

        The sums are formed in ``combine_scores``' order, so every total is the same number."""
        word_errs, sent_errs = [], []
        for start in range(0, len(grid), self.chunk):
            g = grid[start : start + self.chunk, :, None, None]
            totals = g[:, 0] * self.lm
            totals += self.am  # am + lam*lm: addition commutes exactly
            term = np.multiply(g[:, 1], self.n_words)
            totals += term
            for k, feature in ((2, self.old_lm), (3, self.n_oov), (4, self.ngram)):
                if feature is not None:
                    np.multiply(g[:, k], feature, out=term)
                    totals += term
            best = np.argmax(totals, axis=-1)  # first maximum = better rank
            chosen = np.take_along_axis(self.errors, best.T, axis=1).T
            word_errs.append(chosen.sum(axis=1))
            sent_errs.append(np.count_nonzero(chosen, axis=1))
        return np.concatenate(word_errs), np.concatenate(sent_errs)


def _mesh(*axes: np.ndarray) -> np.ndarray:
    return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)


def tidy(values: np.ndarray) -> np.ndarray:
    # Rounding keeps printed weights tidy (0.1, not 0.10000000000000009).
    return np.unique(np.round(values, 12))


def _neighbours(grid: np.ndarray, best: float) -> tuple[float, float]:
    values = np.unique(grid)
    i = int(np.searchsorted(values, best))
    return values[max(i - 1, 0)], values[min(i + 1, len(values) - 1)]


def local_step(grid: np.ndarray, value: float) -> float:
    """The fine pass's step at ``value``: the grid spacing there over (points - 1) / 2."""
    values = np.unique(grid)
    if len(values) < 2:
        return 0.0
    gaps = np.diff(values)
    j = int(np.clip(np.searchsorted(values, value) - 1, 0, len(gaps) - 1))
    return float(gaps[j]) / ((_FINE_POINTS - 1) / 2)


def refine_axis(grid: np.ndarray, best: float, points: int = _FINE_POINTS) -> np.ndarray:
    """A finer grid spanning the best value's neighbours in ``grid``."""
    values = np.unique(grid)
    if len(values) == 1:
        return values
    lo, hi = _neighbours(values, best)
    return tidy(np.concatenate([np.linspace(lo, hi, points), [best]]))


def axis(grid: Sequence[float] | None, default: np.ndarray, used: bool = True) -> np.ndarray:
    if not used:
        return np.zeros(1)
    return np.asarray(default if grid is None else grid, dtype=np.float64)


def score_scale(features: NbestFeatures) -> float:
    """How much more the first-pass score varies within a list than the new LM score does.

    The ratio of the two scores' summed absolute deviations from their list means; 1 when
    either does not vary or is not finite. The automatic search multiplies its default
    ranges, steps and limits by it, so multiplying the first-pass scores by a constant
    (Kaldi's acoustic costs are unscaled, ~10x an LM's) multiplies the tuned weights by
    that constant and leaves the choices, and the WER, as they were.
    """
    pad = features.dense < 0
    index = np.where(pad, 0, features.dense)
    counts = np.count_nonzero(~pad, axis=1)[:, None]

    def spread(x: np.ndarray) -> float:
        v = np.where(pad, 0.0, x[index])
        return float(np.where(pad, 0.0, np.abs(v - v.sum(axis=1, keepdims=True) / counts)).sum())

    with np.errstate(invalid="ignore", over="ignore"):
        am, lm = spread(features.am), spread(features.lm)
    if not (np.isfinite(am) and np.isfinite(lm) and am > 0 and lm > 0):
        return 1.0
    return am / lm


_Point = tuple  # lam, word_bonus, mu, gamma, ngram (floats), word errors, sentence errors (ints)


def _better(a: _Point, b: _Point) -> bool:
    return (a[_N], a[_N + 1]) < (b[_N], b[_N + 1])


class Search:
    """Grid evaluations on one dev set, counted; the automatic search's extension and line searches."""

    def __init__(self, features: NbestFeatures, errors: np.ndarray, scale: float) -> None:
        self.dense = _Dense(features, errors)
        self.limits = {name: (lo * scale, hi * scale) for name, (lo, hi) in TUNE_LIMITS.items()}
        self.evaluated = 0
        self.cut_off: dict[int, tuple[int, float]] = {}  # axis -> (direction, edge) of an extension cut off

    def grid(self, axes: Sequence[np.ndarray]) -> _Point:
        """The best point of the mesh of ``axes``: fewest word errors, then sentence errors, then grid
        order."""
        grid = _mesh(*axes)
        word_errs, sent_errs = self.dense.evaluate(grid)
        self.evaluated += len(grid)
        i = int(np.lexsort((np.arange(len(grid)), sent_errs, word_errs))[0])
        return (*(float(x) for x in grid[i]), int(word_errs[i]), int(sent_errs[i]))

    def on_edge(self, k: int, value: float) -> bool:
        """Whether automatic weight ``k`` ended on a hard limit, or beyond the edge from which an
        extension that was still finding fewer errors ran into one."""
        lo, hi = self.limits[WEIGHT_NAMES[k]]
        if value <= lo + 1e-9 * max(1.0, abs(lo)) or value >= hi - 1e-9 * max(1.0, abs(hi)):
            return True
        direction, edge = self.cut_off.get(k, (0, 0.0))
        return direction * (value - edge) > 0

    def extend(
        self, axes: list[np.ndarray], best: _Point, auto: Sequence[bool]
    ) -> tuple[list[np.ndarray], _Point]:
        """Extend each automatic axis beyond the end the best point lies on, while that finds fewer errors.

        Round r of an axis adds ``_EXTEND_POINTS`` points at 2**r times its default step (so its
        reach doubles each round), clipped to the hard limit; a round that finds nothing better
        is undone (the axis keeps its values, so the fine pass is as without it) and that end
        is not tried again. Only the new slab of the mesh is evaluated. An improving round that
        reached the limit is remembered for ``on_edge``.
        """
        axes = list(axes)
        steps = [float(np.min(np.diff(a))) if len(a) > 1 else 0.0 for a in axes]
        rounds = {}  # (axis, direction) -> rounds done; -1 once it found nothing
        while True:
            tried = []
            for k, name in enumerate(WEIGHT_NAMES):
                if not auto[k] or steps[k] <= 0:
                    continue
                lo, hi = self.limits[name]
                for direction, edge, limit in ((1, axes[k].max(), hi), (-1, axes[k].min(), lo)):
                    r = rounds.get((k, direction), 0)
                    if r < 0 or best[k] != edge or direction * (limit - edge) <= 0:
                        continue
                    new = edge + direction * steps[k] * 2**r * np.arange(1, _EXTEND_POINTS + 1)
                    reached = bool(direction * (limit - new[-1]) <= 0)  # clipped to the limit
                    new = tidy(np.append(new[direction * (limit - new) > 0], [limit] if reached else []))
                    slab = [new if j == k else a for j, a in enumerate(axes)]
                    tried.append((k, direction, axes[k], self.grid(slab), edge, reached))
                    axes[k] = tidy(np.concatenate([axes[k], new]))
            if not tried:
                return axes, best
            improved = min((t[3] for t in tried), key=lambda p: (p[_N], p[_N + 1]))
            if _better(improved, best):
                best = improved
                for k, direction, _, _, edge, reached in tried:
                    rounds[(k, direction)] = rounds.get((k, direction), 0) + 1
                    if reached:  # still improving when the limit stopped it
                        self.cut_off[k] = (direction, edge)
            else:
                for k, direction, before, *_ in reversed(tried):
                    axes[k] = before
                    rounds[(k, direction)] = -1

    def polish(self, best: _Point, auto: Sequence[bool], steps: Sequence[float]) -> _Point:
        """Line searches, Powell-style (SRILM's nbest-optimize): along each automatic weight and
        along diagonals of each pair of them (``_DIAGONALS``), over ``_LINE_OFFSETS`` fine steps,
        then along the direction the round moved (a pattern move: lam and word_bonus often form
        a diagonal ridge, the LM score falling with each word), always to the best point with
        fewer errors, until a round moves nothing. Values stay within the hard limits."""
        lows = np.array([self.limits[n][0] for n in WEIGHT_NAMES])
        highs = np.array([self.limits[n][1] for n in WEIGHT_NAMES])
        searched = [k for k in range(_N) if auto[k] and steps[k] > 0]
        unit = np.eye(_N)
        directions = [unit[k] for k in searched]  # in fine steps
        for a, i in enumerate(searched):
            for j in searched[a + 1 :]:
                directions += [unit[i] * di + unit[j] * dj for di, dj in _DIAGONALS]
        step = np.array(steps, dtype=float)
        for _ in range(_LINE_ROUNDS):
            start = best
            for d in directions:
                best = self._points(
                    best, np.array(best[:_N]) + _LINE_OFFSETS[:, None] * (d * step), lows, highs
                )
            if best == start:
                return best
            move = np.array(best[:_N]) - np.array(start[:_N])
            best = self._points(best, np.array(best[:_N]) + _PATTERN_STEPS[:, None] * move, lows, highs)
        return best

    def _points(self, best: _Point, points: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> _Point:
        """The first of ``points`` (clipped to the limits) with the fewest errors, if fewer than
        ``best``'s."""
        points = np.round(np.clip(points, lows, highs), 12)
        word_errs, sent_errs = self.dense.evaluate(points)
        self.evaluated += len(points)
        i = int(np.lexsort((np.arange(len(points)), sent_errs, word_errs))[0])
        candidate = (*(float(x) for x in points[i]), int(word_errs[i]), int(sent_errs[i]))
        return candidate if _better(candidate, best) else best
