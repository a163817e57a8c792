// BMUF's step (block-wise model update filtering, Chen and Huo 2016) over one weight array,
// in one pass: distributed training runs it after every combination on every dense and
// sparse array but the direct table, so NumPy's five passes with temporaries cost more than
// the combination itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rnnlm {

// With a = the processes' average after a block ((a + addend) * scale: a sum may come
// unscaled, its last term apart; addend may be null), s = the weights the block started from
// and d = the block momentum:
// d = momentum * d + block_lr * (a - s); the global model is s + d.
// With look_ahead the next block starts ahead (Nesterov): a = s = s + d + momentum * d;
// without it, a = s + d and s is left alone. Elementwise: the same on every process.
void block_momentum_step(float* a, const float* addend, float* s, float* d, std::size_t n, float scale,
                         float momentum, float block_lr, bool look_ahead);

// The same step on blocks idx[0..count) of `block` floats of a, s and d (n floats each; the
// last block may be short) only, the blocks some process changed: the average of block i is
// sums[i * block ...] * scale (the packed sums, pack_blocks' layout), and the new weights are
// written both into a and back over the sums (ready to be sent). Blocks no process changed
// keep their weights and momentum. Throws ConfigError on a block index out of range.
void block_momentum_step_blocks(float* a, float* s, float* d, std::size_t n, std::size_t block,
                                const std::int64_t* idx, std::size_t count, float* sums, float scale,
                                float momentum, float block_lr, bool look_ahead);

}  // namespace rnnlm
