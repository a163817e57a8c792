#include "block_momentum.h"

#include "update_marks.h"

// Each product and sum rounded on its own, as NumPy's expression was: whether the compiler
// may contract to FMA must not depend on the CPU a process runs on (all must agree).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace rnnlm {
namespace {

// One element: the new weight, given its (scaled) average; updates s and d.
inline float step_element(float average, float& s, float& d, float momentum, float block_lr, bool look_ahead) {
  const float step = block_lr * (average - s);
  const float di = momentum * d + step;
  d = di;
  const float global = s + di;
  if (!look_ahead) return global;
  s = global + momentum * di;
  return s;
}

}  // namespace

void block_momentum_step(float* a, const float* addend, float* s, float* d, std::size_t n, float scale,
                         float momentum, float block_lr, bool look_ahead) {
  for (std::size_t i = 0; i < n; ++i) {
    const float average = (addend ? a[i] + addend[i] : a[i]) * scale;  // exact when scale is 1
    a[i] = step_element(average, s[i], d[i], momentum, block_lr, look_ahead);
  }
}

void block_momentum_step_blocks(float* a, float* s, float* d, std::size_t n, std::size_t block,
                                const std::int64_t* idx, std::size_t count, float* sums, float scale,
                                float momentum, float block_lr, bool look_ahead) {
  for (std::size_t i = 0; i < count; ++i, sums += block) {
    const auto [first, length] = block_span(n, block, idx[i]);
    float* ai = a + first;
    float* si = s + first;
    float* di = d + first;
    for (std::size_t j = 0; j < length; ++j) {
      sums[j] = ai[j] = step_element(sums[j] * scale, si[j], di[j], momentum, block_lr, look_ahead);
    }
  }
}

}  // namespace rnnlm
