// The engine's limits, said once: the constructors and validate() check them, bindings.cc
// exports each as _core.MAX_* (or DEFAULT_*), and rnnlm_fast/options.py reads its bounds there.
// They protect memory and arithmetic (sizes, buffers), not policy.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rnnlm {

// A model's sizes (Model's constructor).
constexpr std::int32_t kMaxHidden = 100000;
constexpr int kMaxDirectOrder = 32;  // orders index direct.cc's primes
constexpr int kMaxDirectSizeLog2 = 34;  // the direct table, in weights
constexpr std::uint64_t kMaxDirectSize = std::uint64_t{1} << kMaxDirectSizeLog2;

// One training epoch (TrainOptions::validate).
constexpr int kMaxBptt = 1000;       // steps of backpropagation through time
constexpr int kMaxBpttBlock = 1000;  // words between BPTT updates
constexpr int kMaxThreads = 4096;
constexpr int kMaxStreams = 1024;    // lanes of a thread; also batch_gradient's sentences

// A block-synchronous epoch (BlockTrainOptions::validate): streams of a block, and positions of a
// block (batch * steps), which its buffers hold at once.
constexpr int kMaxBatch = 4096;
constexpr std::int64_t kMaxBlockPositions = 65536;

// The gradient checks (sentence_gradient, batch_gradient) run full BPTT over a sentence of n
// words in n + 2 steps, so a sentence must leave room within kMaxBptt.
constexpr std::int64_t kMaxGradientWords = 900;
static_assert(kMaxGradientWords + 2 <= kMaxBptt, "a gradient check's BPTT fits kMaxBptt");

// Lines longer than this are rejected as corrupt input unless the caller says otherwise.
constexpr std::size_t kDefaultMaxLineBytes = 256 * 1024;

}  // namespace rnnlm
