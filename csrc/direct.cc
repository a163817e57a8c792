#include "direct.h"

namespace rnnlm {

std::uint64_t direct_mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

namespace {

// Calls emit(a, hash) for each usable order a; the hash covers (kind, a, history[0..a-1]).
template <typename Emit>
void hash_orders(const std::int32_t* history, int order, std::uint64_t kind, Emit emit) {
  std::uint64_t h = direct_mix(kind);
  for (int a = 0; a < order; ++a) {
    if (a > 0) {
      const std::int32_t w = history[a - 1];
      if (w < 0) break;  // an unknown word ends the context, as in rnnlm-0.4b
      h = direct_mix(h ^ (static_cast<std::uint64_t>(w) + 1) * 0x100000001B3ull);
    }
    emit(a, direct_mix(h + static_cast<std::uint64_t>(a)));
  }
}

}  // namespace

void direct_class_features(const std::int32_t* history, int order, std::uint64_t table_size,
                           int n_classes, DirectFeatures& out) {
  out.class_start.resize(static_cast<std::size_t>(order));
  out.class_count = 0;
  // Class blocks lie wholly in the first half of the table.
  const std::uint64_t span = table_size / 2 - static_cast<std::uint64_t>(n_classes) + 1;
  hash_orders(history, order, 1, [&](int a, std::uint64_t h) {
    out.class_start[static_cast<std::size_t>(a)] = h % span;
    out.class_count = a + 1;
  });
}

void direct_word_features(const std::int32_t* history, int order, std::uint64_t table_size,
                          std::int32_t word_class, DirectFeatures& out) {
  out.word_start.resize(static_cast<std::size_t>(order));
  out.word_count = 0;
  // Word blocks start in the second half and wrap around within it.
  const std::uint64_t half = table_size - table_size / 2;
  hash_orders(history, order, 2 + (static_cast<std::uint64_t>(word_class) << 8), [&](int a, std::uint64_t h) {
    out.word_start[static_cast<std::size_t>(a)] = h % half;
    out.word_count = a + 1;
  });
}

}  // namespace rnnlm
