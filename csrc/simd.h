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

// exp(x - n ln 2) by Cephes's degree-6 polynomial, for one float or eight (``p`` holds its first
// coefficient in x's type): the one arithmetic exp_approx and exp_vec share.
template <class V>
static inline __attribute__((always_inline)) V exp_reduced(V x, V n, V p) {
  V r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r + 1.0f;
}

// Cephes-style expf: range reduction by ln 2 and a degree-6 polynomial, about 1 ulp.
// Written without library calls so that it vectorises inside `omp simd` loops.
static inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float y = exp_reduced(x, n, 1.9875691500e-4f);
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

// exp_approx's arithmetic for one float or eight (GCC vector extensions: GCC leaves exp_approx's
// loops scalar under the AVX2/AVX-512 targets), floor written as truncation and a correction (the
// same value for |x| < 2^31). The block cell kernels use it; exp_approx stays as the online
// trainer's golden runs have it.
typedef std::int32_t v8i __attribute__((vector_size(32)));
static inline float vsplat(float, float c) { return c; }
static inline v8f vsplat(v8f, float c) { return splat8(c); }
static inline std::int32_t vtrunc(float x) { return static_cast<std::int32_t>(x); }
static inline v8i vtrunc(v8f x) { return __builtin_convertvector(x, v8i); }
static inline float vfloat(std::int32_t k) { return static_cast<float>(k); }
static inline v8f vfloat(v8i k) { return __builtin_convertvector(k, v8f); }
static inline std::int32_t vless(float a, float b) { return a < b ? -1 : 0; }  // -1 where a < b
static inline v8i vless(v8f a, v8f b) { return a < b; }
static inline float vbits(std::int32_t k) {
  float f;
  std::memcpy(&f, &k, sizeof f);
  return f;
}
static inline v8f vbits(v8i k) { return reinterpret_cast<v8f>(k); }
static inline float vclamp(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }
static inline v8f vclamp(v8f x, float lo, float hi) {
  const v8f l = splat8(lo), h = splat8(hi);
  x = x < l ? l : x;
  return x > h ? h : x;
}

template <class V>
static inline __attribute__((always_inline)) V exp_vec(V x) {
  x = vclamp(x, -87.0f, 88.0f);
  const V t = x * 1.44269504088896341f + 0.5f;
  auto k = vtrunc(t);
  k += vless(t, vfloat(k));  // floor: one less where truncation rounded up
  const V n = vfloat(k);
  const V y = exp_reduced(x, n, vsplat(x, 1.9875691500e-4f));
  return y * vbits((k + 127) << 23);
}

// The activations of the block cell kernels, through exp_vec.
template <class V>
static inline __attribute__((always_inline)) V sigmoid_vec(V x) { return 1.0f / (1.0f + exp_vec(-x)); }
template <class V>
static inline __attribute__((always_inline)) V tanh_vec(V x) { return 2.0f / (1.0f + exp_vec(-2.0f * x)) - 1.0f; }
static inline float relu_vec(float x) { return std::max(x, 0.0f); }
static inline v8f relu_vec(v8f x) { return x > 0.0f ? x : splat8(0.0f); }
// Loads and stores of one float or eight.
static inline float vload(float, const float* p) { return *p; }
static inline v8f vload(v8f, const float* p) { return load8(p); }
static inline void vstore(float* p, float v) { *p = v; }
static inline void vstore(float* p, v8f v) { store8(p, v); }
