// OpenBLAS from the scipy-openblas32 wheel: 32-bit integers, every symbol prefixed "scipy_" (so it
// never clashes with NumPy's own OpenBLAS, scipy_openblas64_, loaded in the same process), run-time
// CPU dispatch (DYNAMIC_ARCH), a pthreads pool of its own. setup.py finds the header and the library
// in the installed package; rnnlm_fast/__init__.py imports scipy_openblas32, which loads the library
// before the extension needs it (and the extension's rpath points at the package's lib/ as well).
#include "blas.h"

#include <cblas.h>  // scipy_openblas32's, through setup.py's include path

#include <algorithm>
#include <string>

#include "errors.h"

namespace rnnlm::blas {
namespace {

// One BLAS thread per call unless a caller asks for more: the engine's OpenMP threads each call the
// library, and a pool of the library's own behind each of them would oversubscribe the cores.
// Set once, when the extension is loaded; set_threads changes it.
const bool kOneThreadByDefault = (scipy_openblas_set_num_threads(1), true);

void check(bool ok, const char* what, const char* message) {
  if (!ok) throw ConfigError(std::string("blas::") + what + ": " + message);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  check(m >= 0 && n >= 0 && k >= 0, "sgemm", "negative size");
  // row-major: the stored A is m x k (k x m with trans_a), so a row holds k (m) floats
  check(lda >= std::max(1, trans_a ? m : k), "sgemm", "lda smaller than A's stored row");
  check(ldb >= std::max(1, trans_b ? k : n), "sgemm", "ldb smaller than B's stored row");
  check(ldc >= std::max(1, n), "sgemm", "ldc smaller than C's row");
  if (m == 0 || n == 0) return;
  scipy_cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n,
                    k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemv(bool trans_a, int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
           float* y) {
  check(m >= 0 && n >= 0, "sgemv", "negative size");
  check(lda >= std::max(1, n), "sgemv", "lda smaller than A's row");
  const int rows_y = trans_a ? n : m, cols_x = trans_a ? m : n;
  if (rows_y == 0) return;
  if (cols_x == 0) {  // the library would leave y as it is (BLAS's quick return); the contract scales it
    for (int i = 0; i < rows_y; ++i) y[i] = beta == 0.0f ? 0.0f : beta * y[i];
    return;
  }
  scipy_cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

void set_threads(int n) {
  check(n >= 1, "set_threads", "needs at least one thread");
  scipy_openblas_set_num_threads(n);
}

int threads() { return scipy_openblas_get_num_threads(); }

const char* name() {
  // get_config: "OpenBLAS 0.3.30 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64"; the first two
  // words and the core the dispatch chose
  static const std::string text = [] {
    const std::string config = scipy_openblas_get_config();
    std::size_t end = config.find(' ');
    if (end != std::string::npos) end = config.find(' ', end + 1);
    return config.substr(0, end) + " (" + scipy_openblas_get_corename() + ")";
  }();
  return text.c_str();
}

}  // namespace rnnlm::blas
