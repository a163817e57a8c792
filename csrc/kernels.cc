#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// Function multi-versioning: GCC emits one clone per target and an ifunc resolver.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(RNNLM_NO_CLONES)
#define RNNLM_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RNNLM_CLONES
#endif

namespace rnnlm {
namespace {

// Cephes-style expf: range reduction by ln 2 and a degree-6 polynomial, about 1 ulp.
// Written without library calls so that it vectorises inside `omp simd` loops.
inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

}  // namespace

// 8-float vectors (GCC vector extensions): each clone compiles them to its own ISA.
// 256 bits is the sweet spot: full width on AVX2, and AVX-512 parts run it without
// frequency penalties.
typedef float v8f __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

static inline v8f load8(const float* p) {
  v8f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
static inline void store8(float* p, v8f v) { __builtin_memcpy(p, &v, sizeof v); }
static inline v8f splat8(float x) { return v8f{x, x, x, x, x, x, x, x}; }

// [sum(a), sum(b), sum(c), sum(d)] with a transpose-and-add tree.
static inline v4f hsum4(v8f a, v8f b, v8f c, v8f d) {
  const v4f s0 = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  const v4f s1 = __builtin_shufflevector(b, b, 0, 1, 2, 3) + __builtin_shufflevector(b, b, 4, 5, 6, 7);
  const v4f s2 = __builtin_shufflevector(c, c, 0, 1, 2, 3) + __builtin_shufflevector(c, c, 4, 5, 6, 7);
  const v4f s3 = __builtin_shufflevector(d, d, 0, 1, 2, 3) + __builtin_shufflevector(d, d, 4, 5, 6, 7);
  const v4f u0 = __builtin_shufflevector(s0, s1, 0, 4, 1, 5) + __builtin_shufflevector(s0, s1, 2, 6, 3, 7);
  const v4f u1 = __builtin_shufflevector(s2, s3, 0, 4, 1, 5) + __builtin_shufflevector(s2, s3, 2, 6, 3, 7);
  return __builtin_shufflevector(u0, u1, 0, 1, 4, 5) + __builtin_shufflevector(u0, u1, 2, 3, 6, 7);
}

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

RNNLM_CLONES
void matvec(const float* __restrict M, int rows, int cols, const float* __restrict x,
            const float* __restrict bias, float* __restrict y) {
  int r = 0;
  // Four rows per pass share each load of x.
  for (; r + 4 <= rows; r += 4) dot4(M + static_cast<std::size_t>(r) * cols, cols, x, y + r);
  for (; r < rows; ++r) y[r] = dot1(M + static_cast<std::size_t>(r) * cols, cols, x);
  if (bias != nullptr) {
    for (int i = 0; i < rows; ++i) y[i] += bias[i];
  }
}

RNNLM_CLONES
void matvec_batch(const float* __restrict M, int rows, int cols, const float* const* xs, int n,
                  float* const* ys) {
  // Each block of rows is used for every vector while it is in L1: M streams from L2 once
  // per batch instead of once per vector.
  constexpr int kRowBlock = 16;
  for (int r0 = 0; r0 < rows; r0 += kRowBlock) {
    const int r1 = std::min(rows, r0 + kRowBlock);
    for (int v = 0; v < n; ++v) {
      int r = r0;
      for (; r + 4 <= r1; r += 4) dot4(M + static_cast<std::size_t>(r) * cols, cols, xs[v], ys[v] + r);
      for (; r < r1; ++r) ys[v][r] = dot1(M + static_cast<std::size_t>(r) * cols, cols, xs[v]);
    }
  }
}

RNNLM_CLONES
void matvec_transposed(const float* __restrict M, int rows, int cols, const float* __restrict d,
                       float* __restrict e) {
  std::fill(e, e + cols, 0.0f);
  const int c8 = cols & ~7;
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* m0 = M + static_cast<std::size_t>(r) * cols;
    const float* m1 = m0 + cols;
    const float* m2 = m1 + cols;
    const float* m3 = m2 + cols;
    const v8f d0 = splat8(d[r]), d1 = splat8(d[r + 1]), d2 = splat8(d[r + 2]), d3 = splat8(d[r + 3]);
    for (int j = 0; j < c8; j += 8) {
      store8(e + j, load8(e + j) + d0 * load8(m0 + j) + d1 * load8(m1 + j) + d2 * load8(m2 + j) +
                        d3 * load8(m3 + j));
    }
    for (int j = c8; j < cols; ++j) {
      e[j] += d[r] * m0[j] + d[r + 1] * m1[j] + d[r + 2] * m2[j] + d[r + 3] * m3[j];
    }
  }
  for (; r < rows; ++r) {
    const float* m0 = M + static_cast<std::size_t>(r) * cols;
    const v8f d0 = splat8(d[r]);
    for (int j = 0; j < c8; j += 8) store8(e + j, load8(e + j) + d0 * load8(m0 + j));
    for (int j = c8; j < cols; ++j) e[j] += d[r] * m0[j];
  }
}

RNNLM_CLONES
void backprop_update_rows(const float* A, float* B, int rows, int cols, const float* __restrict g,
                          float lr, float keep, const float* __restrict h, float* __restrict e) {
  // A and B may be the same matrix: each element is read before it is written.
  const int c8 = cols & ~7;
  const v8f k8 = splat8(keep);
  int r = 0;
  for (; r + 2 <= rows; r += 2) {
    const float* a0 = A + static_cast<std::size_t>(r) * cols;
    const float* a1 = a0 + cols;
    float* b0 = B + static_cast<std::size_t>(r) * cols;
    float* b1 = b0 + cols;
    const v8f g0 = splat8(g[r]), g1 = splat8(g[r + 1]);
    const v8f l0 = splat8(lr * g[r]), l1 = splat8(lr * g[r + 1]);
    for (int j = 0; j < c8; j += 8) {
      const v8f w0 = load8(a0 + j), w1 = load8(a1 + j), hj = load8(h + j);
      store8(e + j, load8(e + j) + g0 * w0 + g1 * w1);
      store8(b0 + j, k8 * load8(b0 + j) + l0 * hj);
      store8(b1 + j, k8 * load8(b1 + j) + l1 * hj);
    }
    for (int j = c8; j < cols; ++j) {
      const float w0 = a0[j], w1 = a1[j];
      e[j] += g[r] * w0 + g[r + 1] * w1;
      b0[j] = keep * b0[j] + lr * g[r] * h[j];
      b1[j] = keep * b1[j] + lr * g[r + 1] * h[j];
    }
  }
  for (; r < rows; ++r) {
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
void rank_k_update(float* __restrict M, int rows, int cols, const float* __restrict D,
                   const float* __restrict X, int k, float lr, float keep) {
  // Row by row, 32 columns at a time held in registers while the k inputs are added.
  const int c32 = cols & ~31;
  const int c8 = cols & ~7;
  const v8f k8 = splat8(keep);
  constexpr int kMaxK = 64;
  float c[kMaxK];
  for (int s0 = 0; s0 < k; s0 += kMaxK) {
    const int kk = std::min(kMaxK, k - s0);
    const float* Xs = X + static_cast<std::size_t>(s0) * cols;
    const v8f keep_now = s0 == 0 ? k8 : splat8(1.0f);
    for (int i = 0; i < rows; ++i) {
      for (int s = 0; s < kk; ++s) c[s] = lr * D[static_cast<std::size_t>(s0 + s) * rows + i];
      float* m = M + static_cast<std::size_t>(i) * cols;
      for (int j = 0; j < c32; j += 32) {
        v8f a0 = keep_now * load8(m + j), a1 = keep_now * load8(m + j + 8);
        v8f a2 = keep_now * load8(m + j + 16), a3 = keep_now * load8(m + j + 24);
        for (int s = 0; s < kk; ++s) {
          const float* xs = Xs + static_cast<std::size_t>(s) * cols + j;
          const v8f cs = splat8(c[s]);
          a0 += cs * load8(xs);
          a1 += cs * load8(xs + 8);
          a2 += cs * load8(xs + 16);
          a3 += cs * load8(xs + 24);
        }
        store8(m + j, a0);
        store8(m + j + 8, a1);
        store8(m + j + 16, a2);
        store8(m + j + 24, a3);
      }
      for (int j = c32; j < c8; j += 8) {
        v8f a0 = keep_now * load8(m + j);
        for (int s = 0; s < kk; ++s) a0 += splat8(c[s]) * load8(Xs + static_cast<std::size_t>(s) * cols + j);
        store8(m + j, a0);
      }
      for (int j = c8; j < cols; ++j) {
        float acc = keep_now[0] * m[j];
        for (int s = 0; s < kk; ++s) acc += c[s] * Xs[static_cast<std::size_t>(s) * cols + j];
        m[j] = acc;
      }
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

bool all_finite(const float* x, int n) {
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

}  // namespace rnnlm
