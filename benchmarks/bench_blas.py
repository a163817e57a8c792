"""GFLOP/s of the kept BLAS (csrc/blas.h: OpenBLAS from scipy-openblas32) at the engine's shapes, and
R = sgemm(B=32) / sgemv at 1200x400: the yardstick the engine's own benchmarks report next to theirs.

Shapes are C (M x N) = A (M x K) B (K x N), row-major float32, N = B (one step of B streams) or
T*B (a block): the recurrent / gate products of sigmoid H=200 (600x200 for the three products of
a GRU 200, 200x200), GRU H=400 (1200x400), LSTM H=400 (1600x400) and H=650 (2600x650); the class
layer (100 x H); a word-layer block (36 x 400, PTB's mean class size); the weight gradient
(400 x 1200 += 400 x K times K x 1200, K = T*B = 640, the activations stored batch-major, so A is
transposed). FLOPs = 2 M N K. One measured call = ``repeats`` products timed inside C++
(``_core.blas_time_sgemm``), so no Python call sits in the timing.

Other benchmarks import the helpers to report their own GFLOP/s next to sgemm's in the same run::

    from bench_blas import sgemm_gflops, sgemv_gflops, sgemm_sgemv_ratio
    peak = sgemm_gflops(1200, 32, 400)   # M, N, K

``python -m pytest benchmarks/bench_blas.py --benchmark-only`` (about a minute); ``gflops`` in
extra_info (wall time); ``-k ratio`` gives R alone (CPU time). Threads: 1 (what each engine thread
gets) and 2 (one product on the library's own threads).
"""

from __future__ import annotations

import statistics
import time

import pytest
from benchutil import thread_counts

from rnnlm_fast import _core

# (M, K, N, what)
SHAPES = [
    (1200, 400, 32, "GRU400 step"), (1200, 400, 64, "GRU400 step"), (1200, 400, 640, "GRU400 block"),
    (1200, 400, 1280, "GRU400 block"), (1600, 400, 32, "LSTM400 step"), (1600, 400, 640, "LSTM400 block"),
    (2600, 650, 20, "LSTM650 step"), (2600, 650, 700, "LSTM650 block"),
    (600, 200, 32, "sigmoid200 step"),
    (600, 200, 640, "sigmoid200 block"), (200, 200, 32, "sigmoid200 step"),
    (200, 200, 640, "sigmoid200 block"),
    (100, 200, 640, "class layer"), (100, 650, 700, "class layer"), (36, 400, 1, "word block"),
    (36, 400, 8, "word block"), (36, 400, 64, "word block"),
]
GRADIENT = (400, 640, 1200)  # M, K, N of dW += op(A) B with A stored K x M


def _repeats(flops: float, seconds: float) -> int:
    """Products per sample for about `seconds` at ~100 GFLOP/s."""
    return max(1, int(seconds * 1e11 / flops))


def _gflops(time_call, flops: float, seconds: float, samples: int) -> float:
    repeats = _repeats(flops, seconds / samples)
    per_call = statistics.median(time_call(repeats) for _ in range(samples))
    return flops / per_call / 1e9


def sgemm_gflops(m: int, n: int, k: int, *, trans_a: bool = False, trans_b: bool = False, beta: float = 0.0,
                 threads: int = 1, cpu_time: bool = False, seconds: float = 0.3, samples: int = 5) -> float:
    """Median GFLOP/s of the kept BLAS's sgemm, C (m x n) = op(A) (m x k) op(B) (k x n), on `threads`
    library threads (restored to 1 after), over `samples` samples of about `seconds` in all.

    Wall time, like the engine's words/s; ``cpu_time=True`` (one thread only) counts the calling
    thread's CPU time instead, which a shared, busy machine does not disturb."""
    if cpu_time and threads != 1:
        raise ValueError("cpu_time measures one library thread")
    _core.blas_set_threads(threads)
    try:
        return _gflops(lambda r: _core.blas_time_sgemm(m, n, k, trans_a, trans_b, beta, r, cpu_time),
                       2.0 * m * n * k, seconds, samples)
    finally:
        _core.blas_set_threads(1)


def sgemv_gflops(m: int, n: int, *, cpu_time: bool = False, seconds: float = 0.3, samples: int = 5) -> float:
    """Median GFLOP/s of the kept BLAS's sgemv, y (m) = A (m x n) x, one thread; cpu_time as above."""
    return _gflops(lambda r: _core.blas_time_sgemv(m, n, False, r, cpu_time), 2.0 * m * n, seconds, samples)


def sgemm_sgemv_ratio(m: int = 1200, k: int = 400, batch: int = 32, rounds: int = 3,
                      cpu_time: bool = True) -> float:
    """R: sgemm's GFLOP/s with `batch` columns over sgemv's, at m x k, one thread; the median of
    `rounds` interleaved pairs. CPU time by default: a ratio of two library figures, which the
    machine's other jobs should not move."""
    ratios = []
    for _ in range(rounds):
        ratios.append(sgemm_gflops(m, batch, k, cpu_time=cpu_time, seconds=0.2)
                      / sgemv_gflops(m, k, cpu_time=cpu_time, seconds=0.2))
    return statistics.median(ratios)


def _record(benchmark, flops_per_call: float, **info) -> None:
    benchmark.extra_info.update(info)
    benchmark.extra_info["blas"] = _core.blas_name()
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gflops"] = round(flops_per_call / benchmark.stats.stats.median / 1e9, 1)


@pytest.fixture
def blas_threads():
    """Set the library's threads for one test; back to 1 (the engine's default) after."""
    yield _core.blas_set_threads
    _core.blas_set_threads(1)


@pytest.mark.parametrize("threads", thread_counts()[:2], ids=lambda t: f"t{t}")
@pytest.mark.parametrize("m,k,n,what", SHAPES, ids=lambda v: str(v).replace(" ", "_"))
def test_sgemm(benchmark, blas_threads, m, k, n, what, threads):
    benchmark.group = f"sgemm {m}x{k}x{n} ({what})"
    blas_threads(threads)
    flops = 2.0 * m * n * k
    repeats = _repeats(flops, 0.02)
    benchmark.pedantic(lambda: _core.blas_time_sgemm(m, n, k, repeats=repeats), rounds=7, iterations=1,
                       warmup_rounds=1)
    _record(benchmark, flops * repeats, m=m, k=k, n=n, threads=threads, what=what)


@pytest.mark.parametrize("threads", thread_counts()[:2], ids=lambda t: f"t{t}")
@pytest.mark.parametrize("trans", ["tn", "nt"])
def test_sgemm_weight_gradient(benchmark, blas_threads, trans, threads):
    """dW (400 x 1200) += op(A) op(B), K = 640: "tn" with the activations stored batch-major (A is
    K x 400, B K x 1200), "nt" with them stored feature-major."""
    m, k, n = GRADIENT
    benchmark.group = f"sgemm gradient {m}x{k}x{n}"
    blas_threads(threads)
    flops = 2.0 * m * n * k
    repeats = _repeats(flops, 0.02)
    ta, tb = trans == "tn", trans == "nt"
    benchmark.pedantic(lambda: _core.blas_time_sgemm(m, n, k, ta, tb, 1.0, repeats), rounds=7, iterations=1,
                       warmup_rounds=1)
    _record(benchmark, flops * repeats, m=m, k=k, n=n, threads=threads, trans=trans)


def test_sgemv(benchmark):
    """y = A x at 1200 x 400, one thread: streams=1's product."""
    m, n = 1200, 400
    benchmark.group = "sgemv 1200x400"
    repeats = _repeats(2.0 * m * n, 0.02)
    benchmark.pedantic(lambda: _core.blas_time_sgemv(m, n, repeats=repeats), rounds=7, iterations=1,
                       warmup_rounds=1)
    _record(benchmark, 2.0 * m * n * repeats, m=m, n=n, threads=1)


def test_sgemm_sgemv_ratio(benchmark):
    """R = sgemm(1200x400x32) / sgemv(1200x400), one thread: the figure issue 27's speed-up bars use."""
    benchmark.group = "R = sgemm(B=32) / sgemv at 1200x400"
    start = time.perf_counter()
    ratio = benchmark.pedantic(sgemm_sgemv_ratio, rounds=1, iterations=1)
    benchmark.extra_info.update(R=round(ratio, 2), blas=_core.blas_name(),
                                seconds=round(time.perf_counter() - start, 1))
