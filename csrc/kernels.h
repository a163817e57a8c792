// Hot float32 loops only: matrix-vector products, fused backprop+update of output rows,
// rank-k weight updates, activations and max-shifted softmax. Row-major matrices.
// Each kernel is compiled for AVX-512, AVX2+FMA and baseline x86-64 and picked at load time
// (GCC function multi-versioning), so one build runs at full speed everywhere.
// All kernels are re-entrant; callers own every buffer.
#pragma once

#include <cstdint>

#include "gemm.h"

namespace rnnlm {

enum class Activation : std::int32_t { kSigmoid = 0, kTanh = 1, kRelu = 2 };

// y[r] = dot(M[r, :], x) + (bias ? bias[r] : 0) for r < rows.
void matvec(const float* M, int rows, int cols, const float* x, const float* bias, float* y);

// e[j] = sum_r d[r] * M[r, j]  (e = M^T d), j < cols.
void matvec_transposed(const float* M, int rows, int cols, const float* d, float* e);

// For each row r: e += g[r] * A[r, :], then B[r, :] = keep * B[r, :] + lr * g[r] * h.
// The output layer's backward pass in one sweep. Training passes A == B (the weights,
// read before they move); gradient mode passes the weights as A and a gradient buffer as B.
void backprop_update_rows(const float* A, float* B, int rows, int cols, const float* g, float lr,
                          float keep, const float* h, float* e);

// y = keep * y + a * x.
void scale_axpy(float* y, int n, float keep, float a, const float* x);

// x = f(x) in place.
void activate(Activation act, float* x, int n);

// e[i] *= f'(pre-activation) written in terms of the output h[i].
void mul_activation_derivative(Activation act, const float* h, float* e, int n);

// x = softmax(x) in place (shifted by the maximum); returns log(sum(exp(x - max))) + max,
// i.e. the log normaliser, computed in double.
double softmax(float* x, int n);

// Clips each x[i] into [-limit, limit].
void clip(float* x, int n, float limit);

}  // namespace rnnlm
