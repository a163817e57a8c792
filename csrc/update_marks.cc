#include "update_marks.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "errors.h"

namespace rnnlm {

UpdateMarks::UpdateMarks(const Model& m)
    : embed_rows_(static_cast<std::size_t>(m.vocab_size())),
      classes_(static_cast<std::size_t>(m.n_classes())),
      size_(embed_rows_ + classes_ + static_cast<std::size_t>((m.direct_size() + kDirectBlock - 1) / kDirectBlock)),
      bytes_(new std::atomic<std::uint8_t>[size_]) {
  clear();
}

bool UpdateMarks::made_for(const Model& m) const {
  return embed_rows_ == static_cast<std::size_t>(m.vocab_size()) &&
         classes_ == static_cast<std::size_t>(m.n_classes()) &&
         direct_blocks() == static_cast<std::size_t>((m.direct_size() + kDirectBlock - 1) / kDirectBlock);
}

void UpdateMarks::direct_range(std::uint64_t begin, std::uint64_t n) {
  const std::size_t base = embed_rows_ + classes_;
  for (std::uint64_t b = begin / kDirectBlock, last = (begin + n - 1) / kDirectBlock; b <= last; ++b) {
    set(base + static_cast<std::size_t>(b));
  }
}

void UpdateMarks::clear() {
  for (std::size_t i = 0; i < size_; ++i) bytes_[i].store(0, std::memory_order_relaxed);
}

std::pair<std::size_t, std::size_t> block_span(std::size_t n, std::size_t block, std::int64_t b) {
  if (block == 0) throw ConfigError("block size must be positive");
  const std::size_t blocks = (n + block - 1) / block;
  if (b < 0 || static_cast<std::size_t>(b) >= blocks) {
    throw ConfigError("block " + std::to_string(b) + " outside an array of " + std::to_string(blocks) + " blocks");
  }
  const std::size_t first = static_cast<std::size_t>(b) * block;
  return {first, std::min(block, n - first)};
}

void pack_blocks(const float* array, std::size_t n, std::size_t block, const std::int64_t* idx,
                 std::size_t count, float* out) {
  for (std::size_t i = 0; i < count; ++i, out += block) {
    const auto [first, length] = block_span(n, block, idx[i]);
    std::memcpy(out, array + first, sizeof(float) * length);
    std::fill(out + length, out + block, 0.0f);
  }
}

void unpack_blocks(float* array, std::size_t n, std::size_t block, const std::int64_t* idx,
                   std::size_t count, const float* in, float scale) {
  for (std::size_t i = 0; i < count; ++i, in += block) {
    const auto [first, length] = block_span(n, block, idx[i]);
    for (std::size_t j = 0; j < length; ++j) array[first + j] = in[j] * scale;
  }
}

}  // namespace rnnlm
