// BMUF's step (block-wise model update filtering, Chen and Huo 2016) over one weight array,
// in one pass: distributed training runs it after every combination on every dense and
// sparse array but the direct table, so NumPy's five passes with temporaries cost more than
// the combination itself.
#pragma once

#include <cstddef>

namespace rnnlm {

// With a = the processes' average after a block ((a + addend) * scale: a sum may come
// unscaled, its last term apart; addend may be null), s = the weights the block started from
// and d = the block momentum:
// d = momentum * d + block_lr * (a - s); the global model is s + d.
// With look_ahead the next block starts ahead (Nesterov): a = s = s + d + momentum * d;
// without it, a = s + d and s is left alone. Elementwise: the same on every process.
void block_momentum_step(float* a, const float* addend, float* s, float* d, std::size_t n, float scale,
                         float momentum, float block_lr, bool look_ahead);

}  // namespace rnnlm
