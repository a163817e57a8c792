#include "block_vector.h"

#include "simd.h"

namespace rnnlm {

// sum x[i] * y[i] in double (one fixed order: reproducible).
RNNLM_CLONES
double dot_double(const float* x, const float* y, std::size_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * y[i];
  return s;
}

// w = beta * w + alpha * g (beta 0: w's old values are not read).
RNNLM_CLONES
void scale_add(float* __restrict w, const float* __restrict g, std::size_t n, float beta, float alpha) {
  if (beta == 0.0f) {
    for (std::size_t i = 0; i < n; ++i) w[i] = alpha * g[i];
  } else {
    for (std::size_t i = 0; i < n; ++i) w[i] = beta * w[i] + alpha * g[i];
  }
}

// y += x.
RNNLM_CLONES
void add_to(float* __restrict y, const float* __restrict x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += x[i];
}

// out (cols x rows) = in (rows x cols)^T.
RNNLM_CLONES
void transpose(const float* __restrict in, int rows, int cols, float* __restrict out) {
  for (int r = 0; r < rows; ++r) {
    const float* row = in + static_cast<std::size_t>(r) * cols;
    for (int c = 0; c < cols; ++c) out[static_cast<std::size_t>(c) * rows + r] = row[c];
  }
}

}  // namespace rnnlm
