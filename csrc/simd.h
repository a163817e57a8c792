// Shared by the kernel files: GCC function multi-versioning (one clone per ISA level, picked
// at load time) and 8-float vectors that each clone compiles to its own instructions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

// Function multi-versioning: GCC emits one clone per target and an ifunc resolver.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(RNNLM_NO_CLONES)
#define RNNLM_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RNNLM_CLONES
#endif

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
// A broadcast written as a shuffle: GCC turns an initialiser list into eight inserts.
static inline v8f splat8(float x) {
  const v8f v = {x};
  return __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0);
}

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

// Cephes-style expf: range reduction by ln 2 and a degree-6 polynomial, about 1 ulp.
// Written without library calls so that it vectorises inside `omp simd` loops.
static inline float exp_approx(float x) {
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

// The activations every cell kernel uses, written through exp_approx (vectorisable).
static inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
static inline float tanh_approx(float x) { return 2.0f / (1.0f + exp_approx(-2.0f * x)) - 1.0f; }
