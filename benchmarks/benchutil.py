"""Helpers for the bench_*.py modules (pytest puts benchmarks/ on sys.path when it imports them)."""

from __future__ import annotations

import ctypes
import os
from glob import glob
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from rnnlm_fast.encoding import Encoded

SEED = 1
# rnnlm-0.4b's Penn Treebank setting.
PTB = {"hidden": 200, "classes": 100, "bptt": 4, "bptt_block": 10, "activation": "sigmoid", "lr": 0.1,
       "l2": 1e-6, "gradient_cutoff": 15.0}
# The options of one training epoch in that setting (RNNLM.train_epoch's keywords).
PTB_EPOCH = {k: PTB[k] for k in ("lr", "l2", "bptt", "bptt_block", "gradient_cutoff")}


def thread_counts() -> list[int]:
    """1 and 2 always; 4, 8 and 16 where the machine has that many cores."""
    cores = os.cpu_count() or 1
    return [1, 2] + [t for t in (4, 8, 16) if t <= cores]


def head(enc: Encoded, n: int) -> Encoded:
    """The first whole sentences of a forward-encoded text, holding >= n positions."""
    s = min(int(np.searchsorted(enc.offsets, n)), len(enc.offsets) - 1)
    offsets = np.ascontiguousarray(enc.offsets[: s + 1])
    ids = np.ascontiguousarray(enc.ids[: offsets[-1]])
    return Encoded(ids, offsets, int((ids < 0).sum()), np.ascontiguousarray(enc.mapped[: offsets[-1]]))


def record(benchmark, positions: int, **info) -> None:
    """Store the parameters, and words/s: positions over the mean time of the measured call."""
    benchmark.extra_info.update(info)
    benchmark.extra_info["positions"] = int(positions)
    if benchmark.stats is not None:  # None under --benchmark-disable
        mean = benchmark.stats.stats.mean
        benchmark.extra_info["words_per_sec"] = round(positions / mean, 1)
        benchmark.extra_info["us_per_word"] = round(mean / positions * 1e6, 4)


# --- the machine's sgemm, as the yardstick of bench_gemm.py -----------------------------------------
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_SGEMM_NAMES = ("scipy_cblas_sgemm64_", "cblas_sgemm64_", "scipy_cblas_sgemm", "cblas_sgemm")


def _find_sgemm() -> Optional[tuple[Callable, type]]:
    """``cblas_sgemm`` of the OpenBLAS NumPy itself loaded (its wheel bundles one; the same handle,
    so the same OPENBLAS_NUM_THREADS), and its integer type (64-bit in the ``64_`` builds)."""
    top = Path(np.__file__).resolve().parent
    candidates = glob(str(top.parent / "numpy.libs" / "*openblas*"))
    candidates += glob(str(top / ".dylibs" / "*openblas*"))
    for path in candidates:
        lib = ctypes.CDLL(path)
        for name in _SGEMM_NAMES:
            fn = getattr(lib, name, None)
            if fn is not None:
                return fn, (ctypes.c_int64 if "64" in name else ctypes.c_int)
    return None


_SGEMM = _find_sgemm()


def sgemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, *, alpha: float = 1.0, beta: float = 0.0,
          trans_a: bool = False, trans_b: bool = False) -> None:
    """In place: ``c = alpha * op(a) @ op(b) + beta * c`` by one ``cblas_sgemm`` call on C-contiguous
    float32 arrays (op: transposed with ``trans_*``): the library's product and nothing else, no
    temporary and no extra pass over ``c``. Skips the calling test where NumPy's OpenBLAS has no
    ``cblas_sgemm`` to call."""
    if _SGEMM is None:
        import pytest

        pytest.skip("NumPy's OpenBLAS (cblas_sgemm) not found: the sgemm baseline needs NumPy's wheel")
    fn, blasint = _SGEMM
    for x in (a, b, c):
        assert x.dtype == np.float32 and x.flags.c_contiguous
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    n = b.shape[0] if trans_b else b.shape[1]
    assert c.shape == (m, n) and (b.shape[1] if trans_b else b.shape[0]) == k
    op_a, op_b = (_TRANS if t else _NO_TRANS for t in (trans_a, trans_b))
    fn(ctypes.c_int(_ROW_MAJOR), ctypes.c_int(op_a), ctypes.c_int(op_b), blasint(m), blasint(n), blasint(k),
       ctypes.c_float(alpha), ctypes.c_void_p(a.ctypes.data), blasint(a.shape[1]),
       ctypes.c_void_p(b.ctypes.data), blasint(b.shape[1]),
       ctypes.c_float(beta), ctypes.c_void_p(c.ctypes.data), blasint(c.shape[1]))
