// Hashed maximum-entropy "direct connections" (rnnlm-0.4b's -direct / -direct-order, RNNME):
// n-gram features of order 0..N-1 over the preceding words, hashed into one weight table,
// add to the class logits (first half of the table) and to the word logits of the target's
// class (second half). Updates are sparse, so Hogwild threads can share the table.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace rnnlm {

// How n-gram features are hashed into the table. kSplitmix: rnnlm-fast's own (splitmix64
// mixing; word blocks wrap around within the second half). kRnnlm04b: rnnlm-0.4b's, so that
// its RNNME models score exactly as there (a sum of primes times word ids; a word block
// that reaches the end of the table stops there, for its order and every higher one, and a
// class hash of 0 disables its order and every higher one).
enum class DirectHash : std::int32_t { kSplitmix = 0, kRnnlm04b = 1 };
// The schemes' names, indexed by DirectHash (Python's _core.DIRECT_HASHES).
inline constexpr std::array<const char*, 2> kDirectHashNames = {"splitmix", "rnnlm04b"};

DirectHash parse_direct_hash(const std::string& name);  // throws ConfigError
const char* direct_hash_name(DirectHash scheme);

// The hashed feature positions for one step: for each usable order a, the start of a block
// of consecutive weights in the table.
struct DirectFeatures {
  std::vector<std::uint64_t> class_start;  // block of n_classes weights per order, first half
  std::vector<std::uint64_t> word_start;   // table index of the class's first word per order
  std::vector<std::uint64_t> word_limit;   // words j < word_limit[a] of the class use order a
  int class_count = 0;                     // usable orders for each part
  int word_count = 0;
};

// Computes the features of a context. `history[0]` is the most recent word (the input word of
// this step), history[1] the one before, ...; ids < 0 (out of vocabulary) stop higher orders
// as in rnnlm-0.4b. `table_size` is the table's length (>= 2 * n_classes and >= 2 * the
// largest class); `word_class` is the target's class (only the word features depend on it).
// Pure functions; thread-safe.
void direct_class_features(DirectHash scheme, const std::int32_t* history, int order, std::uint64_t table_size,
                           int n_classes, DirectFeatures& out);
void direct_word_features(DirectHash scheme, const std::int32_t* history, int order, std::uint64_t table_size,
                          std::int32_t word_class, DirectFeatures& out);

// The table index of word j of a class block starting at `start` (from direct_word_features):
// blocks of the splitmix scheme wrap around within the second half; those of rnnlm-0.4b's
// never reach the end (word_limit stops them).
inline std::size_t direct_word_index(std::uint64_t start, int j, std::uint64_t table_size) {
  std::uint64_t i = start + static_cast<std::uint64_t>(j);
  if (i >= table_size) i -= table_size - table_size / 2;
  return static_cast<std::size_t>(i);
}

// Calls f(table index, j) for every (order, word j < n) pair a step's word features use, j indexing
// the n words of the target's class: what the output layer reads, updates and marks.
template <typename F>
void for_word_features(const DirectFeatures& features, int n, std::uint64_t table_size, F f) {
  for (int a = 0; a < features.word_count; ++a) {
    const std::uint64_t start = features.word_start[static_cast<std::size_t>(a)];
    const std::uint64_t limit = features.word_limit[static_cast<std::size_t>(a)];
    const int used = static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(n), limit));
    for (int j = 0; j < used; ++j) f(direct_word_index(start, j, table_size), j);
  }
}

// The 64-bit mixing step used by the splitmix hash (splitmix64's finaliser); exposed for tests.
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
