// TEMPORARY stand-in for the BLAS library (the "blas" work replaces this file): plain loops,
// correct for every transpose case, blocked for the cache and multi-versioned so the inner
// loops vectorise; threads split the rows of C. Thread-safe (per-thread scratch).
#include "blas.h"

#include <algorithm>
#include <vector>

#include "simd.h"

namespace rnnlm::blas {
namespace {

int g_threads = 1;

// C[m x n] += alpha * A[m x k] B[k x n] (both untransposed), rows [i0, i1) of C.
RNNLM_CLONES
void gemm_nn_rows(int i0, int i1, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                  float* c, int ldc) {
  constexpr int kBlockK = 128, kBlockN = 512;
  for (int j0 = 0; j0 < n; j0 += kBlockN) {
    const int j1 = std::min(n, j0 + kBlockN);
    for (int p0 = 0; p0 < k; p0 += kBlockK) {
      const int p1 = std::min(k, p0 + kBlockK);
      for (int i = i0; i < i1; ++i) {
        float* __restrict ci = c + static_cast<long>(i) * ldc;
        const float* ai = a + static_cast<long>(i) * lda;
        for (int p = p0; p < p1; ++p) {
          const float s = alpha * ai[p];
          if (s == 0.0f) continue;
          const float* __restrict bp = b + static_cast<long>(p) * ldb;
          for (int j = j0; j < j1; ++j) ci[j] += s * bp[j];
        }
      }
    }
  }
}

// C[m x n] += alpha * A^T B with A stored k x m, rows [i0, i1) of C.
RNNLM_CLONES
void gemm_tn_rows(int i0, int i1, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                  float* c, int ldc) {
  constexpr int kBlockK = 64, kBlockN = 512;
  for (int j0 = 0; j0 < n; j0 += kBlockN) {
    const int j1 = std::min(n, j0 + kBlockN);
    for (int p0 = 0; p0 < k; p0 += kBlockK) {
      const int p1 = std::min(k, p0 + kBlockK);
      for (int i = i0; i < i1; ++i) {
        float* __restrict ci = c + static_cast<long>(i) * ldc;
        for (int p = p0; p < p1; ++p) {
          const float s = alpha * a[static_cast<long>(p) * lda + i];
          if (s == 0.0f) continue;
          const float* __restrict bp = b + static_cast<long>(p) * ldb;
          for (int j = j0; j < j1; ++j) ci[j] += s * bp[j];
        }
      }
    }
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  for (int i = 0; i < m; ++i) {
    float* ci = c + static_cast<long>(i) * ldc;
    if (beta == 0.0f) {
      std::fill(ci, ci + n, 0.0f);
    } else if (beta != 1.0f) {
      for (int j = 0; j < n; ++j) ci[j] *= beta;
    }
  }
  if (k <= 0 || alpha == 0.0f) return;
  // op(B) = B^T: transpose B (n x k) into k x n scratch, then the untransposed kernels.
  thread_local std::vector<float> bt;
  if (trans_b) {
    bt.resize(static_cast<std::size_t>(k) * n);
    for (int j = 0; j < n; ++j) {
      const float* bj = b + static_cast<long>(j) * ldb;
      for (int p = 0; p < k; ++p) bt[static_cast<std::size_t>(p) * n + j] = bj[p];
    }
    b = bt.data();
    ldb = n;
  }
  const int threads = std::max(1, std::min(g_threads, m / 8));
  const float* bb = b;
  const int ldbb = ldb;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int t = 0; t < threads; ++t) {
    const int i0 = static_cast<int>(static_cast<long>(m) * t / threads);
    const int i1 = static_cast<int>(static_cast<long>(m) * (t + 1) / threads);
    if (trans_a) {
      gemm_tn_rows(i0, i1, n, k, alpha, a, lda, bb, ldbb, c, ldc);
    } else {
      gemm_nn_rows(i0, i1, n, k, alpha, a, lda, bb, ldbb, c, ldc);
    }
  }
}

void sgemv(bool trans_a, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y) {
  const int rows = trans_a ? n : m;
  for (int i = 0; i < rows; ++i) y[i] = beta == 0.0f ? 0.0f : beta * y[i];
  if (trans_a) {
    for (int i = 0; i < m; ++i) {
      const float s = alpha * x[i];
      const float* ai = a + static_cast<long>(i) * lda;
      for (int j = 0; j < n; ++j) y[j] += s * ai[j];
    }
  } else {
    for (int i = 0; i < m; ++i) {
      const float* ai = a + static_cast<long>(i) * lda;
      float s = 0.0f;
      for (int j = 0; j < n; ++j) s += ai[j] * x[j];
      y[i] += alpha * s;
    }
  }
}

void set_threads(int n) { g_threads = std::max(1, n); }
int threads() { return g_threads; }
const char* name() { return "loops (temporary)"; }

}  // namespace rnnlm::blas
