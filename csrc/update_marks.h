// Which parts of a model's sparsely written weights training changed since the marks were last
// cleared (embedding rows, word classes, blocks of the direct table), and the packing of marked
// blocks into one buffer: distributed training averages only what some rank changed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "rnn.h"

namespace rnnlm {

class UpdateMarks {
 public:
  // Floats per block of the direct table (one byte of marks stands for 256 bytes of weights).
  static constexpr std::uint64_t kDirectBlock = 64;

  // One byte per embedding row (V), per word class (C: its rows of word_w and word_b) and per
  // direct block (ceil(direct / kDirectBlock)), in that order, all clear.
  explicit UpdateMarks(const Model& m);

  // Marking is idempotent (a relaxed store of 1), so Hogwild threads need no lock.
  void embed_row(std::int32_t w) { set(static_cast<std::size_t>(w)); }
  void word_class(std::int32_t c) { set(embed_rows_ + static_cast<std::size_t>(c)); }
  // Direct weights [begin, begin + n), n >= 1, within the table.
  void direct_range(std::uint64_t begin, std::uint64_t n);

  // Whether these marks fit a model of m's sizes (vocabulary, classes, direct table).
  bool made_for(const Model& m) const;
  std::size_t size() const { return size_; }
  std::size_t embed_rows() const { return embed_rows_; }
  std::size_t classes() const { return classes_; }
  std::size_t direct_blocks() const { return size_ - embed_rows_ - classes_; }
  // All the marks, 0 or 1 each; read or clear them only while no training runs.
  std::uint8_t* data() { return reinterpret_cast<std::uint8_t*>(bytes_.get()); }
  void clear();

 private:
  void set(std::size_t i) { bytes_[i].store(1, std::memory_order_relaxed); }
  std::size_t embed_rows_, classes_, size_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> bytes_;
};
static_assert(sizeof(std::atomic<std::uint8_t>) == 1, "marks are read as plain bytes");

// The floats of block b of an array of n floats in blocks of `block` (the last may be short):
// [first, first + length). Throws ConfigError when b is out of range or block is 0.
std::pair<std::size_t, std::size_t> block_span(std::size_t n, std::size_t block, std::int64_t b);

// Copies blocks idx[0..count) of `block` floats of array[0..n) (the last block may be short:
// padded with zeros) one after the other into out[count * block]. Throws ConfigError on a
// block index out of range (or a block of 0 floats). Reads only; thread-safe.
void pack_blocks(const float* array, std::size_t n, std::size_t block, const std::int64_t* idx,
                 std::size_t count, float* out);
// The reverse, scaling: block idx[i] of `array` = in[i * block ...] * scale. Throws ConfigError
// on a block index out of range.
void unpack_blocks(float* array, std::size_t n, std::size_t block, const std::int64_t* idx,
                   std::size_t count, const float* in, float scale);

}  // namespace rnnlm
