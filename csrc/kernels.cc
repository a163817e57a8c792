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

RNNLM_CLONES
void matvec(const float* __restrict M, int rows, int cols, const float* __restrict x,
            const float* __restrict bias, float* __restrict y) {
  int r = 0;
  // Four rows per pass share each load of x.
  for (; r + 4 <= rows; r += 4) {
    const float* m0 = M + static_cast<std::size_t>(r) * cols;
    const float* m1 = m0 + cols;
    const float* m2 = m1 + cols;
    const float* m3 = m2 + cols;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int j = 0; j < cols; ++j) {
      const float xj = x[j];
      s0 += m0[j] * xj;
      s1 += m1[j] * xj;
      s2 += m2[j] * xj;
      s3 += m3[j] * xj;
    }
    y[r] = s0;
    y[r + 1] = s1;
    y[r + 2] = s2;
    y[r + 3] = s3;
  }
  for (; r < rows; ++r) {
    const float* m0 = M + static_cast<std::size_t>(r) * cols;
    float s0 = 0;
#pragma omp simd reduction(+ : s0)
    for (int j = 0; j < cols; ++j) s0 += m0[j] * x[j];
    y[r] = s0;
  }
  if (bias != nullptr) {
    for (int i = 0; i < rows; ++i) y[i] += bias[i];
  }
}

RNNLM_CLONES
void matvec_transposed(const float* __restrict M, int rows, int cols, const float* __restrict d,
                       float* __restrict e) {
  std::fill(e, e + cols, 0.0f);
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* m0 = M + static_cast<std::size_t>(r) * cols;
    const float* m1 = m0 + cols;
    const float* m2 = m1 + cols;
    const float* m3 = m2 + cols;
    const float d0 = d[r], d1 = d[r + 1], d2 = d[r + 2], d3 = d[r + 3];
#pragma omp simd
    for (int j = 0; j < cols; ++j) e[j] += d0 * m0[j] + d1 * m1[j] + d2 * m2[j] + d3 * m3[j];
  }
  for (; r < rows; ++r) {
    const float* m0 = M + static_cast<std::size_t>(r) * cols;
    const float d0 = d[r];
#pragma omp simd
    for (int j = 0; j < cols; ++j) e[j] += d0 * m0[j];
  }
}

RNNLM_CLONES
void backprop_update_rows(const float* A, float* B, int rows, int cols, const float* __restrict g,
                          float lr, float keep, const float* __restrict h, float* __restrict e) {
  // A and B may be the same matrix: each element is read before it is written.
  int r = 0;
  for (; r + 2 <= rows; r += 2) {
    const float* a0 = A + static_cast<std::size_t>(r) * cols;
    const float* a1 = a0 + cols;
    float* b0 = B + static_cast<std::size_t>(r) * cols;
    float* b1 = b0 + cols;
    const float g0 = g[r], g1 = g[r + 1];
    const float l0 = lr * g0, l1 = lr * g1;
#pragma omp simd
    for (int j = 0; j < cols; ++j) {
      const float w0 = a0[j], w1 = a1[j];
      e[j] += g0 * w0 + g1 * w1;
      b0[j] = keep * b0[j] + l0 * h[j];
      b1[j] = keep * b1[j] + l1 * h[j];
    }
  }
  for (; r < rows; ++r) {
    const float* a0 = A + static_cast<std::size_t>(r) * cols;
    float* b0 = B + static_cast<std::size_t>(r) * cols;
    const float g0 = g[r];
    const float l0 = lr * g0;
#pragma omp simd
    for (int j = 0; j < cols; ++j) {
      e[j] += g0 * a0[j];
      b0[j] = keep * b0[j] + l0 * h[j];
    }
  }
}

RNNLM_CLONES
void rank_k_update(float* __restrict M, int rows, int cols, const float* __restrict D,
                   const float* __restrict X, int k, float lr, float keep) {
  constexpr int kMaxK = 64;
  float c[kMaxK];
  for (int s0 = 0; s0 < k; s0 += kMaxK) {
    const int kk = std::min(kMaxK, k - s0);
    const float keep_now = s0 == 0 ? keep : 1.0f;
    for (int i = 0; i < rows; ++i) {
      for (int s = 0; s < kk; ++s) c[s] = lr * D[static_cast<std::size_t>(s0 + s) * rows + i];
      float* m = M + static_cast<std::size_t>(i) * cols;
#pragma omp simd
      for (int j = 0; j < cols; ++j) {
        float acc = keep_now * m[j];
        for (int s = 0; s < kk; ++s) acc += c[s] * X[static_cast<std::size_t>(s0 + s) * cols + j];
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
