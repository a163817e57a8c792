"""GFLOP/s of the engine's batched matrix kernels (csrc/gemm.cc) next to the machine's sgemm on the
same shapes, in one run: the products a step of B=32 or 64 streams does.

* ``nt``: the forward products, B hidden vectors times a weight matrix (recurrent G*H x H, class C x H);
* ``nn``: errors back through a weight matrix (BPTT, output layer);
* ``rank_k``: the weight update from B error vectors, ``M += lr * D.T @ X`` in place;
* ``matvec``: one vector at a time, the B=1 engine's product, for the ratio the batching buys.

The yardstick (``impl="openblas"``) is one ``cblas_sgemm`` call of the OpenBLAS NumPy loaded, on
one thread like each engine thread (benchmarks/conftest.py), into an output allocated once:
``beta=1`` updates the matrix in place for rank_k. Nothing else is timed around it: no
temporaries, no extra passes (benchutil.sgemm). Ours returns a new array for nt and nn (one
allocation per call, counted against us). The one-vector row loops over the B vectors inside the
engine (``_core.matvec_each``): no Python call per product.

``gflops`` in extra_info; compare the rows of one group.
"""

from __future__ import annotations

import numpy as np
import pytest
from benchutil import sgemm

from rnnlm_fast import _core

# (rows, cols, batch): sigmoid H=200, GRU H=400, LSTM H=650 recurrent, and the PTB class layer.
SHAPES = [(200, 200, 32), (1200, 400, 32), (1200, 400, 64), (2600, 650, 32), (100, 200, 32)]


def _operands(rows: int, cols: int, n: int):
    rng = np.random.default_rng(rows + cols + n)
    M = rng.standard_normal((rows, cols), dtype=np.float32)
    X = rng.standard_normal((n, cols), dtype=np.float32)
    A = rng.standard_normal((n, rows), dtype=np.float32)
    return M, X, A


def _run(benchmark, fn, flops: float, **info) -> None:
    benchmark.pedantic(fn, rounds=20, iterations=5, warmup_rounds=2)
    benchmark.extra_info.update(info)
    if benchmark.stats is not None:
        benchmark.extra_info["gflops"] = round(flops / benchmark.stats.stats.mean / 1e9, 1)


def _nt_group(rows: int, cols: int, n: int) -> str:
    return f"gemm nt: {n} x {cols} by ({rows} x {cols})^T"


@pytest.mark.parametrize("impl", ["ours", "openblas"])
@pytest.mark.parametrize("kind", ["nt", "nn"])
@pytest.mark.parametrize("rows,cols,n", SHAPES, ids=lambda v: str(v))
def test_gemm(benchmark, rows, cols, n, kind, impl):
    """``nt``: X @ M.T; ``nn``: A @ M (the output preallocated for sgemm)."""
    M, X, A = _operands(rows, cols, n)
    if kind == "nt":
        benchmark.group = _nt_group(rows, cols, n)
        ours, left, right, out = (lambda: _core.matmul_nt(M, X)), X, M, np.empty((n, rows), np.float32)
    else:
        benchmark.group = f"gemm nn: ({n} x {rows}) by ({rows} x {cols})"
        ours, left, right, out = (lambda: _core.matmul_nn(A, M)), A, M, np.empty((n, cols), np.float32)

    def openblas() -> None:
        sgemm(left, right, out, trans_b=kind == "nt")

    openblas()
    np.testing.assert_allclose(ours(), out, rtol=1e-3, atol=1e-3)
    _run(benchmark, ours if impl == "ours" else openblas, 2.0 * rows * cols * n, impl=impl)


@pytest.mark.parametrize("impl", ["ours", "openblas"])
@pytest.mark.parametrize("rows,cols,n", SHAPES, ids=lambda v: str(v))
def test_gemm_rank_k(benchmark, rows, cols, n, impl):
    """M += 0.1 * D.T @ X in place: ours fused, sgemm with beta=1."""
    benchmark.group = f"gemm rank-k: ({rows} x {cols}) += ({n} x {rows})^T ({n} x {cols})"
    M, X, A = _operands(rows, cols, n)
    D = A * np.float32(1e-3)
    mine, theirs = M.copy(), M.copy()
    _core.rank_k_update(mine, D, X, 0.1, 1.0)
    sgemm(D, X, theirs, alpha=0.1, beta=1.0, trans_a=True)
    np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)
    W = M.copy()
    if impl == "ours":
        fn = lambda: _core.rank_k_update(W, D, X, 0.1, 1.0)  # noqa: E731
    else:
        fn = lambda: sgemm(D, X, W, alpha=0.1, beta=1.0, trans_a=True)  # noqa: E731
    _run(benchmark, fn, 2.0 * rows * cols * n, impl=impl)


@pytest.mark.parametrize("rows,cols,n", SHAPES, ids=lambda v: str(v))
def test_gemm_matvec_one_at_a_time(benchmark, rows, cols, n):
    """The nt product as the B=1 engine does it: n one-vector products, looped in C++."""
    benchmark.group = _nt_group(rows, cols, n)
    M, X, _ = _operands(rows, cols, n)
    np.testing.assert_allclose(_core.matvec_each(M, X), _core.matmul_nt(M, X), rtol=1e-3, atol=1e-3)
    _run(benchmark, lambda: _core.matvec_each(M, X), 2.0 * rows * cols * n, impl="matvec x n")
