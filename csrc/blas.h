// The one BLAS the engine uses (OpenBLAS from the scipy-openblas32 wheel; docs/blas.md says why):
// row-major float32 products behind a small interface. No other engine file includes a BLAS header,
// so the choice of library is this file pair's alone.
#pragma once

namespace rnnlm::blas {

// Row-major C = alpha * op(A) op(B) + beta * C, op(X) = X^T when trans_x; A is m x k after op, B k x n
// after op. Reads a and b, updates c (with beta == 0, c's old contents are ignored, NaN included).
// m, n or k may be 0 (with k == 0, C = beta * C). Throws ConfigError on a negative size or a leading
// dimension smaller than the stored row (a programming error: nothing reaches the library's own
// error handler, which would print). Thread-safe: concurrent calls on distinct c are fine.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);

// y = alpha * op(A) x + beta * y (row-major A, m x n before op; x has n entries, y m, or the other
// way round with trans_a). Unit strides. Same contract as sgemm.
void sgemv(bool trans_a, int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
           float* y);

// Threads the library may use inside one call: 1 (the default, set when the extension loads) inside
// our OpenMP threads, which parallelise the engine themselves; more only for one big product called
// from one thread. Process-wide setting of the library: call it outside parallel regions.
void set_threads(int n);
int threads();

// Sets the library's threads for a scope and restores the previous count when it ends (exceptions
// included).
class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : saved_(threads()) { set_threads(n); }
  ~ScopedThreads() { set_threads(saved_); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int saved_;
};

// The library, its version and the core it dispatched to, e.g. "OpenBLAS 0.3.30 (SkylakeX)".
const char* name();

}  // namespace rnnlm::blas
