// The one interface to the BLAS library that runs the block trainer's matrix products.
#pragma once
namespace rnnlm::blas {
// Row-major C = alpha * op(A) op(B) + beta * C, op(X) = X^T when trans_x; A is m x k after op, B k x n after op.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);
// y = alpha * op(A) x + beta * y (row-major A, m x n before op)
void sgemv(bool trans_a, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y);
void set_threads(int n);   // threads the library may use inside one call
int threads();
const char* name();
}
