#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "simd.h"

namespace rnnlm {

// Dot products of rows m0..m3 with x into y[0..3]; the one code path every matvec uses,
// so a row's result never depends on how the rows or vectors were batched.
static inline __attribute__((always_inline)) void dot4(const float* __restrict m0, int cols,
                                                       const float* __restrict x, float* __restrict y) {
  const int c8 = cols & ~7;
  const float* m1 = m0 + cols;
  const float* m2 = m1 + cols;
  const float* m3 = m2 + cols;
  v8f a0 = {}, a1 = {}, a2 = {}, a3 = {};
  for (int j = 0; j < c8; j += 8) {
    const v8f xj = load8(x + j);
    a0 += load8(m0 + j) * xj;
    a1 += load8(m1 + j) * xj;
    a2 += load8(m2 + j) * xj;
    a3 += load8(m3 + j) * xj;
  }
  v4f sums = hsum4(a0, a1, a2, a3);
  for (int j = c8; j < cols; ++j) sums += v4f{m0[j], m1[j], m2[j], m3[j]} * x[j];
  for (int q = 0; q < 4; ++q) y[q] = sums[q];
}

// Eight rows at once: one load of x serves eight rows (same per-row arithmetic as dot4).
static inline __attribute__((always_inline)) void dot8(const float* __restrict m0, int cols,
                                                       const float* __restrict x, float* __restrict y) {
  const int c8 = cols & ~7;
  const std::size_t c = static_cast<std::size_t>(cols);
  v8f a0 = {}, a1 = {}, a2 = {}, a3 = {}, a4 = {}, a5 = {}, a6 = {}, a7 = {};
  for (int j = 0; j < c8; j += 8) {
    const v8f xj = load8(x + j);
    const float* mj = m0 + j;
    a0 += load8(mj) * xj;
    a1 += load8(mj + c) * xj;
    a2 += load8(mj + 2 * c) * xj;
    a3 += load8(mj + 3 * c) * xj;
    a4 += load8(mj + 4 * c) * xj;
    a5 += load8(mj + 5 * c) * xj;
    a6 += load8(mj + 6 * c) * xj;
    a7 += load8(mj + 7 * c) * xj;
  }
  v4f lo = hsum4(a0, a1, a2, a3), hi = hsum4(a4, a5, a6, a7);
  for (int j = c8; j < cols; ++j) {
    lo += v4f{m0[j], m0[c + j], m0[2 * c + j], m0[3 * c + j]} * x[j];
    hi += v4f{m0[4 * c + j], m0[5 * c + j], m0[6 * c + j], m0[7 * c + j]} * x[j];
  }
  for (int q = 0; q < 4; ++q) {
    y[q] = lo[q];
    y[4 + q] = hi[q];
  }
}

// Rows [r0, r1) of M x into y[r0 .. r1): eights, then a four, then singles. Every caller
// groups rows this way from multiples of 8, so a row's result never depends on the caller.
static inline __attribute__((always_inline)) void dot_rows(const float* __restrict M, int r0, int r1, int cols,
                                                           const float* __restrict x, float* __restrict y);

static inline __attribute__((always_inline)) float dot1(const float* __restrict m0, int cols,
                                                        const float* __restrict x) {
  const int c8 = cols & ~7;
  v8f a0 = {};
  for (int j = 0; j < c8; j += 8) a0 += load8(m0 + j) * load8(x + j);
  const v8f zero = {};
  float s0 = hsum4(a0, zero, zero, zero)[0];
  for (int j = c8; j < cols; ++j) s0 += m0[j] * x[j];
  return s0;
}

static inline __attribute__((always_inline)) void dot_rows(const float* __restrict M, int r0, int r1, int cols,
                                                           const float* __restrict x, float* __restrict y) {
  int r = r0;
  for (; r + 8 <= r1; r += 8) dot8(M + static_cast<std::size_t>(r) * cols, cols, x, y + r);
  for (; r + 4 <= r1; r += 4) dot4(M + static_cast<std::size_t>(r) * cols, cols, x, y + r);
  for (; r < r1; ++r) y[r] = dot1(M + static_cast<std::size_t>(r) * cols, cols, x);
}

RNNLM_CLONES
void matvec(const float* __restrict M, int rows, int cols, const float* __restrict x,
            const float* __restrict bias, float* __restrict y) {
  dot_rows(M, 0, rows, cols, x, y);
  if (bias != nullptr) {
    for (int i = 0; i < rows; ++i) y[i] += bias[i];
  }
}

RNNLM_CLONES
void matvec_transposed(const float* __restrict M, int rows, int cols, const float* __restrict d,
                       float* __restrict e) {
  std::fill(e, e + cols, 0.0f);
  const int c8 = cols & ~7;
  int r = 0;
  // Eight rows per pass: e is loaded and stored once for eight rows.
  for (; r + 8 <= rows; r += 8) {
    const float* m0 = M + static_cast<std::size_t>(r) * cols;
    const v8f d0 = splat8(d[r]), d1 = splat8(d[r + 1]), d2 = splat8(d[r + 2]), d3 = splat8(d[r + 3]);
    const v8f d4 = splat8(d[r + 4]), d5 = splat8(d[r + 5]), d6 = splat8(d[r + 6]), d7 = splat8(d[r + 7]);
    for (int j = 0; j < c8; j += 8) {
      const float* mj = m0 + j;
      v8f a = load8(e + j) + d0 * load8(mj) + d1 * load8(mj + cols) + d2 * load8(mj + 2 * cols) +
              d3 * load8(mj + 3 * cols);
      a += d4 * load8(mj + 4 * cols) + d5 * load8(mj + 5 * cols) + d6 * load8(mj + 6 * cols) +
           d7 * load8(mj + 7 * cols);
      store8(e + j, a);
    }
    for (int q = 0; q < 8; ++q) {
      const float* mq = m0 + static_cast<std::size_t>(q) * cols;
      for (int j = c8; j < cols; ++j) e[j] += d[r + q] * mq[j];
    }
  }
  for (; r < rows; ++r) {
    const float* m0 = M + static_cast<std::size_t>(r) * cols;
    const v8f d0 = splat8(d[r]);
    for (int j = 0; j < c8; j += 8) store8(e + j, load8(e + j) + d0 * load8(m0 + j));
    for (int j = c8; j < cols; ++j) e[j] += d[r] * m0[j];
  }
}

// In-place backward sweep (A == B): e += g[r] * M[r], M[r] = keep * M[r] + lr * g[r] * h,
// four rows per pass so h and e are loaded once for four rows.
template <bool kDecay>
static inline __attribute__((always_inline)) void backprop_update_inplace(
    float* __restrict M, int rows, int cols, const float* __restrict g, float lr, float keep,
    const float* __restrict h, float* __restrict e) {
  const int c8 = cols & ~7;
  const v8f k8 = splat8(keep);
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    float* m0 = M + static_cast<std::size_t>(r) * cols;
    float* m1 = m0 + cols;
    float* m2 = m1 + cols;
    float* m3 = m2 + cols;
    const v8f g0 = splat8(g[r]), g1 = splat8(g[r + 1]), g2 = splat8(g[r + 2]), g3 = splat8(g[r + 3]);
    const v8f l0 = splat8(lr * g[r]), l1 = splat8(lr * g[r + 1]), l2 = splat8(lr * g[r + 2]),
              l3 = splat8(lr * g[r + 3]);
    for (int j = 0; j < c8; j += 8) {
      const v8f w0 = load8(m0 + j), w1 = load8(m1 + j), w2 = load8(m2 + j), w3 = load8(m3 + j);
      const v8f hj = load8(h + j);
      store8(e + j, load8(e + j) + g0 * w0 + g1 * w1 + g2 * w2 + g3 * w3);
      store8(m0 + j, (kDecay ? k8 * w0 : w0) + l0 * hj);
      store8(m1 + j, (kDecay ? k8 * w1 : w1) + l1 * hj);
      store8(m2 + j, (kDecay ? k8 * w2 : w2) + l2 * hj);
      store8(m3 + j, (kDecay ? k8 * w3 : w3) + l3 * hj);
    }
    for (int q = 0; q < 4; ++q) {
      float* mq = M + static_cast<std::size_t>(r + q) * cols;
      for (int j = c8; j < cols; ++j) {
        const float w = mq[j];
        e[j] += g[r + q] * w;
        mq[j] = (kDecay ? keep * w : w) + lr * g[r + q] * h[j];
      }
    }
  }
  for (; r < rows; ++r) {
    float* m0 = M + static_cast<std::size_t>(r) * cols;
    const v8f g0 = splat8(g[r]), l0 = splat8(lr * g[r]);
    for (int j = 0; j < c8; j += 8) {
      const v8f w0 = load8(m0 + j);
      store8(e + j, load8(e + j) + g0 * w0);
      store8(m0 + j, (kDecay ? k8 * w0 : w0) + l0 * load8(h + j));
    }
    for (int j = c8; j < cols; ++j) {
      const float w = m0[j];
      e[j] += g[r] * w;
      m0[j] = (kDecay ? keep * w : w) + lr * g[r] * h[j];
    }
  }
}

RNNLM_CLONES
void backprop_update_rows(const float* A, float* B, int rows, int cols, const float* __restrict g,
                          float lr, float keep, const float* __restrict h, float* __restrict e) {
  if (A == B) {  // training: the weights themselves
    if (keep == 1.0f) {
      backprop_update_inplace<false>(B, rows, cols, g, lr, keep, h, e);
    } else {
      backprop_update_inplace<true>(B, rows, cols, g, lr, keep, h, e);
    }
    return;
  }
  // Gradient mode: read A, accumulate into a separate B.
  const int c8 = cols & ~7;
  const v8f k8 = splat8(keep);
  for (int r = 0; r < rows; ++r) {
    const float* a0 = A + static_cast<std::size_t>(r) * cols;
    float* b0 = B + static_cast<std::size_t>(r) * cols;
    const v8f g0 = splat8(g[r]), l0 = splat8(lr * g[r]);
    for (int j = 0; j < c8; j += 8) {
      store8(e + j, load8(e + j) + g0 * load8(a0 + j));
      store8(b0 + j, k8 * load8(b0 + j) + l0 * load8(h + j));
    }
    for (int j = c8; j < cols; ++j) {
      e[j] += g[r] * a0[j];
      b0[j] = keep * b0[j] + lr * g[r] * h[j];
    }
  }
}

RNNLM_CLONES
void scale_axpy(float* __restrict y, int n, float keep, float a, const float* __restrict x) {
#pragma omp simd
  for (int i = 0; i < n; ++i) y[i] = keep * y[i] + a * x[i];
}

RNNLM_CLONES
void activate(Activation act, float* __restrict x, int n) {
  switch (act) {
    case Activation::kSigmoid:
#pragma omp simd
      for (int i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + exp_approx(-x[i]));
      break;
    case Activation::kTanh:
#pragma omp simd
      for (int i = 0; i < n; ++i) x[i] = 2.0f / (1.0f + exp_approx(-2.0f * x[i])) - 1.0f;
      break;
    case Activation::kRelu:
#pragma omp simd
      for (int i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
      break;
  }
}

void mul_activation_derivative(Activation act, const float* __restrict h, float* __restrict e, int n) {
  switch (act) {
    case Activation::kSigmoid:
      for (int i = 0; i < n; ++i) e[i] *= h[i] * (1.0f - h[i]);
      break;
    case Activation::kTanh:
      for (int i = 0; i < n; ++i) e[i] *= 1.0f - h[i] * h[i];
      break;
    case Activation::kRelu:
      for (int i = 0; i < n; ++i) e[i] = h[i] > 0.0f ? e[i] : 0.0f;
      break;
  }
}

RNNLM_CLONES
double softmax(float* __restrict x, int n) {
  float mx = x[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int i = 0; i < n; ++i) {
    const float v = exp_approx(x[i] - mx);
    x[i] = v;
    sum += v;
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int i = 0; i < n; ++i) x[i] *= inv;
  return std::log(static_cast<double>(sum)) + static_cast<double>(mx);
}

void clip(float* x, int n, float limit) {
  for (int i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], -limit), limit);
}

}  // namespace rnnlm
