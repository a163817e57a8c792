"""GFLOP/s of the engine's batched matrix kernels (csrc/gemm.cc) next to the machine's sgemm (NumPy's
OpenBLAS, one thread) on the same shapes, in one run: the products a step of B=32 or 64 streams does.

* ``nt``: the forward products, B hidden vectors times a weight matrix (recurrent G*H x H, class C x H);
* ``nn``: errors back through a weight matrix (BPTT, output layer);
* ``rank_k``: the weight update from B error vectors (NumPy: ``M * keep + lr * D.T @ X``);
* ``matvec``: one vector at a time, the B=1 engine's product, for the ratio the batching buys.

``gflops`` in extra_info; compare ours and NumPy's rows of the same group.
"""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.parametrize("impl", ["ours", "numpy"])
@pytest.mark.parametrize("rows,cols,n", SHAPES, ids=lambda v: str(v))
def test_gemm_nt(benchmark, rows, cols, n, impl):
    benchmark.group = f"gemm nt: {n} x {cols} by ({rows} x {cols})^T"
    M, X, _ = _operands(rows, cols, n)
    fn = (lambda: _core.matmul_nt(M, X)) if impl == "ours" else (lambda: X @ M.T)
    np.testing.assert_allclose(_core.matmul_nt(M, X), X @ M.T, rtol=1e-3, atol=1e-3)
    _run(benchmark, fn, 2.0 * rows * cols * n, impl=impl)


@pytest.mark.parametrize("impl", ["ours", "numpy"])
@pytest.mark.parametrize("rows,cols,n", SHAPES, ids=lambda v: str(v))
def test_gemm_nn(benchmark, rows, cols, n, impl):
    benchmark.group = f"gemm nn: ({n} x {rows}) by ({rows} x {cols})"
    M, _, A = _operands(rows, cols, n)
    fn = (lambda: _core.matmul_nn(A, M)) if impl == "ours" else (lambda: A @ M)
    np.testing.assert_allclose(_core.matmul_nn(A, M), A @ M, rtol=1e-3, atol=1e-3)
    _run(benchmark, fn, 2.0 * rows * cols * n, impl=impl)


@pytest.mark.parametrize("impl", ["ours", "numpy"])
@pytest.mark.parametrize("rows,cols,n", SHAPES, ids=lambda v: str(v))
def test_gemm_rank_k(benchmark, rows, cols, n, impl):
    benchmark.group = f"gemm rank-k: ({rows} x {cols}) += ({n} x {rows})^T ({n} x {cols})"
    M, X, A = _operands(rows, cols, n)
    D = A * np.float32(1e-3)
    W = M.copy()

    def numpy_update():
        W[:] = W * np.float32(1.0) + np.float32(0.1) * (D.T @ X)

    fn = (lambda: _core.rank_k_update(W, D, X, 0.1, 1.0)) if impl == "ours" else numpy_update
    _run(benchmark, fn, 2.0 * rows * cols * n, impl=impl)


@pytest.mark.parametrize("rows,cols,n", SHAPES, ids=lambda v: str(v))
def test_gemm_matvec_one_at_a_time(benchmark, rows, cols, n):
    benchmark.group = f"gemm nt: {n} x {cols} by ({rows} x {cols})^T"
    M, X, _ = _operands(rows, cols, n)

    def one_at_a_time():
        for v in X:
            _core.matvec(M, v)

    _run(benchmark, one_at_a_time, 2.0 * rows * cols * n, impl="matvec x n")
