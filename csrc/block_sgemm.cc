#include "block_sgemm.h"

#include <algorithm>
#include <chrono>

#include "blas.h"

namespace rnnlm {

double& block_sgemm_seconds() {
  thread_local double seconds = 0;
  return seconds;
}

namespace {
thread_local std::vector<GemmShape>* recording = nullptr;
}  // namespace

void block_sgemm_record(std::vector<GemmShape>* into) { recording = into; }

double block_sgemm_replay(const std::vector<GemmShape>& calls, double* flops) {
  std::size_t a_size = 1, b_size = 1, c_size = 1;
  double f = 0;
  for (const GemmShape& g : calls) {
    a_size = std::max(a_size, static_cast<std::size_t>(g.trans_a ? g.k : g.m) * g.lda);
    b_size = std::max(b_size, static_cast<std::size_t>(g.trans_b ? g.n : g.k) * g.ldb);
    c_size = std::max(c_size, static_cast<std::size_t>(g.m) * g.ldc);
    f += 2.0 * g.m * g.n * g.k;
  }
  std::vector<float> a(a_size, 0.01f), b(b_size, 0.01f), c(c_size, 0.0f);
  const auto t0 = std::chrono::steady_clock::now();
  for (const GemmShape& g : calls) {
    blas::sgemm(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, a.data(), g.lda, b.data(), g.ldb, g.beta, c.data(), g.ldc);
  }
  if (flops != nullptr) *flops = f;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void block_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  if (recording != nullptr) recording->push_back(GemmShape{trans_a, trans_b, m, n, k, lda, ldb, ldc, beta});
  const auto t0 = std::chrono::steady_clock::now();
  blas::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  block_sgemm_seconds() += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace rnnlm
