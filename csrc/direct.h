// Hashed maximum-entropy "direct connections" (rnnlm-0.4b's -direct / -direct-order, RNNME):
// n-gram features of order 0..N-1 over the preceding words, hashed into one weight table,
// add to the class logits (first half of the table) and to the word logits of the target's
// class (second half). Updates are sparse, so Hogwild threads can share the table.
#pragma once

#include <cstdint>
#include <algorithm>
#include <vector>

namespace rnnlm {

// The hashed feature positions for one step: for each usable order a, the start of a block
// of consecutive weights in the table.
struct DirectFeatures {
  std::vector<std::uint64_t> class_start;  // block of n_classes weights per order
  std::vector<std::uint64_t> word_start;   // block of class-size weights per order, second half
  int class_count = 0;                     // usable orders for each part
  int word_count = 0;
};

// Computes the features of a context. `history[0]` is the most recent word (the input word of
// this step), history[1] the one before, ...; ids < 0 (out of vocabulary) stop higher orders
// as in rnnlm-0.4b. `table_size` is the table's length (>= 2 * n_classes); `word_class` is the
// target's class (only the word features depend on it). Pure function; thread-safe.
void direct_class_features(const std::int32_t* history, int order, std::uint64_t table_size,
                           int n_classes, DirectFeatures& out);
void direct_word_features(const std::int32_t* history, int order, std::uint64_t table_size,
                          std::int32_t word_class, DirectFeatures& out);

// The 64-bit mixing step used by the hash (splitmix64's finaliser); exposed for tests.
std::uint64_t direct_mix(std::uint64_t x);

}  // namespace rnnlm

namespace rnnlm {

// The last words seen by one stream, most recent first, for the direct-connection features.
class NgramHistory {
 public:
  explicit NgramHistory(int order) : words_(static_cast<std::size_t>(order > 1 ? order - 1 : 1), 0) {}
  // After a reset the context is all </s> (id 0), as rnnlm-0.4b does.
  void reset() { std::fill(words_.begin(), words_.end(), 0); }
  // Makes `in` the most recent word.
  void push(std::int32_t in) {
    for (std::size_t i = words_.size() - 1; i > 0; --i) words_[i] = words_[i - 1];
    words_[0] = in;
  }
  const std::int32_t* data() const { return words_.data(); }

 private:
  std::vector<std::int32_t> words_;
};

}  // namespace rnnlm
