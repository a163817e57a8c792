// Small vector loops the block trainer and its output layer share: sums in double with one fixed
// order (reproducible), scaled updates, a transpose. Multi-versioned like kernels.h.
#pragma once

#include <cstddef>

namespace rnnlm {

// sum x[i] * y[i] in double, in one fixed order.
double dot_double(const float* x, const float* y, std::size_t n);
// w = beta * w + alpha * g (beta 0: w's old values are not read).
void scale_add(float* w, const float* g, std::size_t n, float beta, float alpha);
// y += x.
void add_to(float* y, const float* x, std::size_t n);
// out (cols x rows) = in (rows x cols)^T.
void transpose(const float* in, int rows, int cols, float* out);

}  // namespace rnnlm
