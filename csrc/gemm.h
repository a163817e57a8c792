// Matrix-matrix kernels: the products a batch of streams (training) or lanes (scoring)
// needs, each weight read once for the whole batch instead of once per word. Row-major,
// float32, multi-versioned like kernels.h; re-entrant, callers own every buffer.
#pragma once

namespace rnnlm {

// ys[v] = M xs[v] for v < n (no bias): the rows of M times each vector. ys[v][r] equals
// matvec's y[r] bit for bit (the same accumulation per row and vector), so batched and
// one-at-a-time scoring agree exactly.
void matvec_batch(const float* M, int rows, int cols, const float* const* xs, int n, float* const* ys);

// The same with the vectors as the n rows of X (n x cols) and the results as the n rows of
// Y (n x rows): Y = X M^T.
void matmul_nt(const float* M, int rows, int cols, const float* X, int n, float* Y);

// Y = A M (accumulate: Y += A M); A is n x k, M is k x cols, Y is n x cols. The batched
// transpose product of backpropagation (errors through a weight matrix).
void matmul_nn(const float* A, int n, int k, const float* M, int cols, float* Y, bool accumulate);

// M[i, j] = keep * M[i, j] + lr * sum_s D[s, i] * X[s, j], s < k; D is k x rows, X is k x cols.
// The weight update of a batch of k error vectors as one pass over M instead of k rank-1
// updates. Each element's arithmetic does not depend on how rows are grouped.
void rank_k_update(float* M, int rows, int cols, const float* D, const float* X, int k, float lr,
                   float keep);

}  // namespace rnnlm
