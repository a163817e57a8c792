#include "gemm.h"

#include <algorithm>
#include <cstddef>

#include "simd.h"

namespace rnnlm {
namespace {

// NR rows of M times NV vectors: NR x NV accumulators of 8 lanes, summed over the columns
// in steps of 8, reduced by hsum4 and finished with the scalar tail, the per-row arithmetic
// of matvec (kernels.cc), so results match it bit for bit.
template <int NR, int NV>
inline __attribute__((always_inline)) void dot_tile(const float* __restrict m0, int cols,
                                                    const float* const* xs, float* const* ys, int r) {
  const int c8 = cols & ~7;
  const std::size_t c = static_cast<std::size_t>(cols);
  v8f acc[NR][NV];
  for (int q = 0; q < NR; ++q)
    for (int v = 0; v < NV; ++v) acc[q][v] = v8f{};
  for (int j = 0; j < c8; j += 8) {
    v8f x[NV];
    for (int v = 0; v < NV; ++v) x[v] = load8(xs[v] + j);
    for (int q = 0; q < NR; ++q) {
      const v8f mq = load8(m0 + q * c + j);
      for (int v = 0; v < NV; ++v) acc[q][v] += mq * x[v];
    }
  }
  const v8f zero = {};
  for (int v = 0; v < NV; ++v) {
    v4f sums = hsum4(acc[0][v], NR > 1 ? acc[NR > 1 ? 1 : 0][v] : zero, NR > 2 ? acc[NR > 2 ? 2 : 0][v] : zero,
                     NR > 3 ? acc[NR > 3 ? 3 : 0][v] : zero);
    if constexpr (NR == 4) {
      // the tail as matvec's dot4/dot8 write it (a 4-lane multiply-add): a scalar loop may be
      // contracted to FMA differently, and AVX2's clone then differs in the last bit
      for (int j = c8; j < cols; ++j) sums += v4f{m0[j], m0[c + j], m0[2 * c + j], m0[3 * c + j]} * xs[v][j];
      for (int q = 0; q < 4; ++q) ys[v][r + q] = sums[q];
    } else {
      for (int q = 0; q < NR; ++q) {  // one row: matvec's dot1
        float s = sums[q];
        for (int j = c8; j < cols; ++j) s += m0[q * c + j] * xs[v][j];
        ys[v][r + q] = s;
      }
    }
  }
}

template <int NV>
inline __attribute__((always_inline)) void dot_rows_tile(const float* __restrict M, int r0, int r1, int cols,
                                                         const float* const* xs, float* const* ys) {
  int r = r0;
  for (; r + 4 <= r1; r += 4) dot_tile<4, NV>(M + static_cast<std::size_t>(r) * cols, cols, xs, ys, r);
  for (; r < r1; ++r) dot_tile<1, NV>(M + static_cast<std::size_t>(r) * cols, cols, xs, ys, r);
}

// Rows of M per block: a block stays in L1 while every vector passes over it.
constexpr int kRowBlock = 16;

}  // namespace

RNNLM_CLONES
void matvec_batch(const float* __restrict M, int rows, int cols, const float* const* xs, int n,
                  float* const* ys) {
  for (int r0 = 0; r0 < rows; r0 += kRowBlock) {
    const int r1 = std::min(rows, r0 + kRowBlock);
    int v = 0;
    for (; v + 4 <= n; v += 4) dot_rows_tile<4>(M, r0, r1, cols, xs + v, ys + v);
    if (n - v == 3) dot_rows_tile<3>(M, r0, r1, cols, xs + v, ys + v);
    if (n - v == 2) dot_rows_tile<2>(M, r0, r1, cols, xs + v, ys + v);
    if (n - v == 1) dot_rows_tile<1>(M, r0, r1, cols, xs + v, ys + v);
  }
}

void matmul_nt(const float* M, int rows, int cols, const float* X, int n, float* Y) {
  constexpr int kChunk = 64;
  const float* xs[kChunk];
  float* ys[kChunk];
  for (int v0 = 0; v0 < n; v0 += kChunk) {
    const int k = std::min(kChunk, n - v0);
    for (int v = 0; v < k; ++v) {
      xs[v] = X + static_cast<std::size_t>(v0 + v) * cols;
      ys[v] = Y + static_cast<std::size_t>(v0 + v) * rows;
    }
    matvec_batch(M, rows, cols, xs, k, ys);
  }
}

namespace {

// NR rows of Y, 8 * NC columns from j, inner products over s in [s0, s1):
// Y[.., j..] (+)= A[.., s0:s1] M[s0:s1, j..]. `load` says whether Y holds a partial sum.
template <int NR, int NC>
inline __attribute__((always_inline)) void nn_tile(const float* __restrict A, int k, const float* __restrict M,
                                                   int cols, float* __restrict Y, int j, int s0, int s1, bool load) {
  const std::size_t c = static_cast<std::size_t>(cols);
  v8f acc[NR][NC];
  for (int q = 0; q < NR; ++q)
    for (int b = 0; b < NC; ++b) acc[q][b] = load ? load8(Y + q * c + j + 8 * b) : v8f{};
  for (int s = s0; s < s1; ++s) {
    v8f m[NC];
    for (int b = 0; b < NC; ++b) m[b] = load8(M + s * c + j + 8 * b);
    for (int q = 0; q < NR; ++q) {
      const v8f a = splat8(A[static_cast<std::size_t>(q) * k + s]);
      for (int b = 0; b < NC; ++b) acc[q][b] += a * m[b];
    }
  }
  for (int q = 0; q < NR; ++q)
    for (int b = 0; b < NC; ++b) store8(Y + q * c + j + 8 * b, acc[q][b]);
}

// Rows of M per pass: a 32-column slab of this many rows (16 KB) stays in L1 while every
// tile of rows of Y passes over it.
constexpr int kDepthBlock = 128;

template <int NC>
inline __attribute__((always_inline)) void nn_columns(const float* __restrict A, int n, int k,
                                                      const float* __restrict M, int cols, float* __restrict Y,
                                                      int j, bool accumulate) {
  for (int s0 = 0; s0 < k; s0 += kDepthBlock) {
    const int s1 = std::min(k, s0 + kDepthBlock);
    const bool load = accumulate || s0 > 0;
    int r = 0;
    for (; r + 4 <= n; r += 4) {
      nn_tile<4, NC>(A + static_cast<std::size_t>(r) * k, k, M, cols, Y + static_cast<std::size_t>(r) * cols, j, s0, s1,
                     load);
    }
    for (; r < n; ++r) {
      nn_tile<1, NC>(A + static_cast<std::size_t>(r) * k, k, M, cols, Y + static_cast<std::size_t>(r) * cols, j, s0, s1,
                     load);
    }
  }
}

}  // namespace

RNNLM_CLONES
void matmul_nn(const float* __restrict A, int n, int k, const float* __restrict M, int cols, float* __restrict Y,
               bool accumulate) {
  const int c32 = cols & ~31, c8 = cols & ~7;
  for (int j = 0; j < c32; j += 32) nn_columns<4>(A, n, k, M, cols, Y, j, accumulate);
  for (int j = c32; j < c8; j += 8) nn_columns<1>(A, n, k, M, cols, Y, j, accumulate);
  for (int q = 0; q < n; ++q) {
    for (int j = c8; j < cols; ++j) {
      float acc = accumulate ? Y[static_cast<std::size_t>(q) * cols + j] : 0.0f;
      for (int s = 0; s < k; ++s) acc += A[static_cast<std::size_t>(q) * k + s] * M[static_cast<std::size_t>(s) * cols + j];
      Y[static_cast<std::size_t>(q) * cols + j] = acc;
    }
  }
}

namespace {

constexpr int kMaxK = 64;

// Rows i..i+NR of M, 8 * NC columns from j: keep * M + sum_s c[q][s] X[s, j..].
template <int NR, int NC>
inline __attribute__((always_inline)) void update_tile(float* __restrict M, int cols, const float (*c)[kMaxK],
                                                       const float* __restrict Xs, int kk, v8f keep_now, int j) {
  const std::size_t cc = static_cast<std::size_t>(cols);
  v8f acc[NR][NC];
  for (int q = 0; q < NR; ++q)
    for (int b = 0; b < NC; ++b) acc[q][b] = keep_now * load8(M + q * cc + j + 8 * b);
  for (int s = 0; s < kk; ++s) {
    v8f x[NC];
    for (int b = 0; b < NC; ++b) x[b] = load8(Xs + s * cc + j + 8 * b);
    for (int q = 0; q < NR; ++q) {
      const v8f cs = splat8(c[q][s]);
      for (int b = 0; b < NC; ++b) acc[q][b] += cs * x[b];
    }
  }
  for (int q = 0; q < NR; ++q)
    for (int b = 0; b < NC; ++b) store8(M + q * cc + j + 8 * b, acc[q][b]);
}

template <int NR>
inline __attribute__((always_inline)) void update_rows(float* __restrict M, int cols, const float (*c)[kMaxK],
                                                       const float* __restrict Xs, int kk, v8f keep_now) {
  const int c32 = cols & ~31, c8 = cols & ~7;
  for (int j = 0; j < c32; j += 32) update_tile<NR, 4>(M, cols, c, Xs, kk, keep_now, j);
  for (int j = c32; j < c8; j += 8) update_tile<NR, 1>(M, cols, c, Xs, kk, keep_now, j);
  for (int q = 0; q < NR; ++q) {
    float* m = M + static_cast<std::size_t>(q) * cols;
    for (int j = c8; j < cols; ++j) {
      float acc = keep_now[0] * m[j];
      for (int s = 0; s < kk; ++s) acc += c[q][s] * Xs[static_cast<std::size_t>(s) * cols + j];
      m[j] = acc;
    }
  }
}

}  // namespace

RNNLM_CLONES
void rank_k_update(float* __restrict M, int rows, int cols, const float* __restrict D,
                   const float* __restrict X, int k, float lr, float keep) {
  // Four rows at a time (the inputs X are loaded once for four rows), 32 columns held in
  // registers while up to kMaxK inputs are added.
  const v8f k8 = splat8(keep);
  float c[4][kMaxK];
  for (int s0 = 0; s0 < k; s0 += kMaxK) {
    const int kk = std::min(kMaxK, k - s0);
    const float* Xs = X + static_cast<std::size_t>(s0) * cols;
    const v8f keep_now = s0 == 0 ? k8 : splat8(1.0f);
    int i = 0;
    for (; i < rows; i += 4) {
      const int nr = std::min(4, rows - i);
      for (int q = 0; q < nr; ++q)
        for (int s = 0; s < kk; ++s) c[q][s] = lr * D[static_cast<std::size_t>(s0 + s) * rows + i + q];
      float* m = M + static_cast<std::size_t>(i) * cols;
      if (nr == 4) {
        update_rows<4>(m, cols, c, Xs, kk, keep_now);
      } else {
        for (int q = 0; q < nr; ++q) update_rows<1>(m + static_cast<std::size_t>(q) * cols, cols, c + q, Xs, kk, keep_now);
      }
    }
  }
}

}  // namespace rnnlm
