#include "block_momentum.h"

// Each product and sum rounded on its own, as NumPy's expression was: whether the compiler
// may contract to FMA must not depend on the CPU a process runs on (all must agree).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace rnnlm {

void block_momentum_step(float* a, const float* addend, float* s, float* d, std::size_t n, float scale,
                         float momentum, float block_lr, bool look_ahead) {
  for (std::size_t i = 0; i < n; ++i) {
    const float average = (addend ? a[i] + addend[i] : a[i]) * scale;  // exact when scale is 1
    const float step = block_lr * (average - s[i]);
    const float di = momentum * d[i] + step;
    d[i] = di;
    const float global = s[i] + di;
    if (look_ahead) {
      a[i] = s[i] = global + momentum * di;
    } else {
      a[i] = global;
    }
  }
}

}  // namespace rnnlm
