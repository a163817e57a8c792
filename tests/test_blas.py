"""The kept BLAS (csrc/blas.h, OpenBLAS from scipy-openblas32): its products against NumPy in float64
within float32 tolerance at the engine's shapes and layouts, the edge cases of the contract, the
thread setting, and that the library the extension uses is the package's own."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from rnnlm_fast import _core
from rnnlm_fast.errors import ConfigError

# (m, k, n): recurrent and gate products (B = 32, T*B = 640), the class layer, a word-layer block,
# a weight gradient, and odd sizes that exercise every kernel's edge handling
SHAPES = [(1200, 400, 32), (600, 200, 640), (100, 200, 64), (36, 400, 8), (400, 64, 1200), (7, 13, 5),
          (1, 1, 1)]


def _close(got: np.ndarray, want: np.ndarray, k: int) -> None:
    # float32 products of k terms of unit size: error ~ sqrt(k) * eps * |terms|
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(k, 1) ** 0.5 * 4)


@pytest.mark.parametrize("m,k,n", SHAPES, ids=str)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_sgemm_matches_numpy(m, k, n, trans_a, trans_b):
    rng = np.random.default_rng(m * 7 + k * 3 + n)
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    c = rng.standard_normal((m, n), dtype=np.float32)
    op_a = (a.T if trans_a else a).astype(np.float64)
    op_b = (b.T if trans_b else b).astype(np.float64)
    want = 0.5 * op_a @ op_b - 2.0 * c.astype(np.float64)
    got = _core.blas_sgemm(a, b, c, trans_a=trans_a, trans_b=trans_b, alpha=0.5, beta=-2.0)
    assert got is c  # updated in place
    _close(c, want, k)
    _close(_core.blas_sgemm(a, b, trans_a=trans_a, trans_b=trans_b), op_a @ op_b, k)


@pytest.mark.parametrize("m,n", [(1200, 400), (36, 400), (3, 1)], ids=str)
@pytest.mark.parametrize("trans_a", [False, True])
def test_sgemv_matches_numpy(m, n, trans_a):
    rng = np.random.default_rng(m + n)
    a = rng.standard_normal((m, n), dtype=np.float32)
    x = rng.standard_normal(m if trans_a else n, dtype=np.float32)
    y = rng.standard_normal(n if trans_a else m, dtype=np.float32)
    op_a = (a.T if trans_a else a).astype(np.float64)
    want = 1.5 * op_a @ x + 0.25 * y.astype(np.float64)
    assert _core.blas_sgemv(a, x, y, trans_a=trans_a, alpha=1.5, beta=0.25) is y
    _close(y, want, op_a.shape[1])


def test_beta_zero_ignores_what_c_held():
    """beta == 0 writes C without reading it: NaN in an output buffer must not leak into a product."""
    a = np.ones((4, 3), np.float32)
    b = np.ones((3, 5), np.float32)
    c = np.full((4, 5), np.nan, np.float32)
    _core.blas_sgemm(a, b, c, beta=0.0)
    np.testing.assert_array_equal(c, np.full((4, 5), 3.0, np.float32))
    y = np.full(4, np.nan, np.float32)
    _core.blas_sgemv(a, np.ones(3, np.float32), y, beta=0.0)
    np.testing.assert_array_equal(y, np.full(4, 3.0, np.float32))


def test_empty_inner_dimension_scales_the_output():
    """k == 0: C = beta * C (the BLAS contract), and empty outputs are fine."""
    c = np.full((3, 2), 4.0, np.float32)
    _core.blas_sgemm(np.zeros((3, 0), np.float32), np.zeros((0, 2), np.float32), c, beta=0.5)
    np.testing.assert_array_equal(c, np.full((3, 2), 2.0, np.float32))
    y = np.full(3, 4.0, np.float32)
    _core.blas_sgemv(np.zeros((3, 0), np.float32), np.zeros(0, np.float32), y, beta=0.5)
    np.testing.assert_array_equal(y, np.full(3, 2.0, np.float32))
    assert _core.blas_sgemm(np.zeros((0, 4), np.float32), np.zeros((4, 3), np.float32)).shape == (0, 3)


def test_one_thread_is_bit_reproducible():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((600, 200), dtype=np.float32)
    b = rng.standard_normal((200, 640), dtype=np.float32)
    first = _core.blas_sgemm(a, b)
    for _ in range(3):
        assert np.array_equal(_core.blas_sgemm(a, b), first)


def test_shapes_and_dtypes_are_checked_not_converted():
    a = np.ones((4, 3), np.float32)
    with pytest.raises(ConfigError, match="columns must equal"):
        _core.blas_sgemm(a, np.ones((4, 5), np.float32))
    with pytest.raises(ConfigError, match="c must be m x n"):
        _core.blas_sgemm(a, np.ones((3, 5), np.float32), np.zeros((5, 4), np.float32))
    with pytest.raises(ConfigError, match="C-contiguous float32"):
        _core.blas_sgemm(a, np.ones((3, 5), np.float32), np.zeros((5, 4), np.float64))
    with pytest.raises(ConfigError, match="C-contiguous float32"):
        _core.blas_sgemm(a, np.ones((3, 5), np.float32), np.zeros((5, 4), np.float32).T)
    with pytest.raises(ConfigError, match="beta != 0 needs c"):
        _core.blas_sgemm(a, np.ones((3, 5), np.float32), beta=1.0)
    with pytest.raises(TypeError):  # float64 operands are refused, not cast
        _core.blas_sgemm(a.astype(np.float64), np.ones((3, 5), np.float32))
    with pytest.raises(TypeError):  # and a strided view is not copied behind the caller's back
        _core.blas_sgemm(np.ones((4, 6), np.float32)[:, ::2], np.ones((3, 5), np.float32))
    with pytest.raises(ConfigError, match="x must be a vector"):
        _core.blas_sgemv(a, np.ones(4, np.float32))
    with pytest.raises(ConfigError, match="at least one thread"):
        _core.blas_set_threads(0)


def test_one_blas_thread_by_default_and_settable():
    """The engine's OpenMP threads each call the BLAS: one library thread per call unless asked."""
    assert _core.blas_threads() == 1
    try:
        _core.blas_set_threads(2)
        assert _core.blas_threads() == 2
        rng = np.random.default_rng(2)
        a = rng.standard_normal((300, 200), dtype=np.float32)
        b = rng.standard_normal((200, 400), dtype=np.float32)
        _close(_core.blas_sgemm(a, b), a.astype(np.float64) @ b, 200)
    finally:
        _core.blas_set_threads(1)
    assert _core.blas_threads() == 1


def test_name_says_library_version_and_core():
    import scipy_openblas32

    name = _core.blas_name()
    assert re.fullmatch(r"OpenBLAS \d+\.\d+\.\d+\S* \(\w+\)", name), name
    assert scipy_openblas32.get_openblas_config().split()[1] in name


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_the_extension_uses_the_packages_library():
    """One OpenBLAS of ours in the process, the one in scipy_openblas32's directory (NumPy's own,
    scipy_openblas64_, is another library with other symbols)."""
    code = ("import rnnlm_fast._core, scipy_openblas32; "
            "print(scipy_openblas32.get_lib_dir()); print(open('/proc/self/maps').read())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lib_dir, maps = out.split("\n", 1)
    loaded = {line.split()[-1] for line in maps.splitlines() if "libscipy_openblas.so" in line}
    assert len(loaded) == 1, loaded
    assert loaded.pop().startswith(lib_dir.rstrip("/") + "/")
