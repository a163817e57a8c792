#include "direct.h"

#include <limits>

#include "engine_limits.h"
#include "errors.h"
#include "names.h"

namespace rnnlm {

DirectHash parse_direct_hash(const std::string& name) {
  if (auto scheme = enum_from_name<DirectHash>(kDirectHashNames, name)) return *scheme;
  throw ConfigError("unknown direct hash '" + name + "' (expected splitmix or rnnlm04b)");
}

const char* direct_hash_name(DirectHash scheme) { return enum_name(kDirectHashNames, scheme); }

std::uint64_t direct_mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

namespace {

// --- rnnlm-fast's scheme ---------------------------------------------------------------------

// Calls emit(a, hash) for each usable order a; the hash covers (kind, a, history[0..a-1]).
template <typename Emit>
void mix_orders(const std::int32_t* history, int order, std::uint64_t kind, Emit emit) {
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

// --- rnnlm-0.4b's scheme (rnnlmlib.cpp, computeNet), reimplemented from its description ------

// The primes rnnlm-0.4b's hash multiplies by (its PRIMES table).
constexpr std::uint32_t kPrimes[] = {
    108641969, 116049371, 125925907, 133333309, 145678979, 175308587, 197530793, 234567803, 251851741,
    264197411, 330864029, 399999781, 407407183, 459258997, 479012069, 545678687, 560493491, 607407037,
    629629243, 656789717, 716048933, 718518067, 725925469, 733332871, 753085943, 755555077, 782715551,
    790122953, 812345159, 814814293, 893826581, 923456189, 940740127, 953085797, 985184539, 990122807};
constexpr std::uint32_t kPrimeCount = sizeof(kPrimes) / sizeof(kPrimes[0]);
static_assert(kPrimeCount > kMaxDirectOrder, "orders up to kMaxDirectOrder index the primes");
// The first two primes' product, taken in 32-bit unsigned arithmetic as rnnlm-0.4b does.
constexpr std::uint64_t kBase = static_cast<std::uint32_t>(kPrimes[0] * kPrimes[1]);

// The hash of order a: `seed` plus, for each of the a most recent words, a prime picked by
// (a, position; the pick in 32-bit arithmetic) times (id + 1), modulo 2^64. Calls emit(a, hash)
// for each usable order a: an unknown word ends the context.
template <typename Emit>
void prime_orders(const std::int32_t* history, int order, std::uint64_t seed, Emit emit) {
  for (int a = 0; a < order; ++a) {
    if (a > 0 && history[a - 1] < 0) break;
    std::uint64_t h = seed;
    for (int b = 1; b <= a; ++b) {
      const std::uint32_t pick = (static_cast<std::uint32_t>(a) * kPrimes[b] + static_cast<std::uint32_t>(b)) % kPrimeCount;
      h += static_cast<std::uint64_t>(kPrimes[pick]) * (static_cast<std::uint64_t>(history[b - 1]) + 1);
    }
    if (!emit(a, h)) break;
  }
}

}  // namespace

void direct_class_features(DirectHash scheme, const std::int32_t* history, int order, std::uint64_t table_size,
                           int n_classes, DirectFeatures& out) {
  out.class_start.resize(static_cast<std::size_t>(order));
  out.class_count = 0;
  const std::uint64_t half = table_size / 2;
  if (scheme == DirectHash::kRnnlm04b) {
    // Blocks start in the first half (and may run into the second).
    prime_orders(history, order, kBase, [&](int a, std::uint64_t h) {
      const std::uint64_t start = h % half;
      if (start == 0) return false;  // rnnlm-0.4b reads a zero hash as "no feature": this order and higher
      out.class_start[static_cast<std::size_t>(a)] = start;
      out.class_count = a + 1;
      return true;
    });
    return;
  }
  // Class blocks lie wholly in the first half of the table.
  const std::uint64_t span = half - static_cast<std::uint64_t>(n_classes) + 1;
  mix_orders(history, order, 1, [&](int a, std::uint64_t h) {
    out.class_start[static_cast<std::size_t>(a)] = h % span;
    out.class_count = a + 1;
  });
}

void direct_word_features(DirectHash scheme, const std::int32_t* history, int order, std::uint64_t table_size,
                          std::int32_t word_class, DirectFeatures& out) {
  out.word_start.resize(static_cast<std::size_t>(order));
  out.word_limit.resize(static_cast<std::size_t>(order));
  out.word_count = 0;
  const std::uint64_t half = table_size / 2;
  if (scheme == DirectHash::kRnnlm04b) {
    // Blocks start in the second half; a block stops at the end of the table, and from that
    // word on every higher order stops too (rnnlm-0.4b's index wraps to 0, which it reads as
    // "no feature").
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t seed = kBase * (static_cast<std::uint64_t>(word_class) + 1);
    prime_orders(history, order, seed, [&](int a, std::uint64_t h) {
      const std::uint64_t start = h % half + half;
      limit = std::min(limit, table_size - start);
      out.word_start[static_cast<std::size_t>(a)] = start;
      out.word_limit[static_cast<std::size_t>(a)] = limit;
      out.word_count = a + 1;
      return true;
    });
    return;
  }
  // Word blocks start in the second half and wrap around within it.
  const std::uint64_t span = table_size - half;
  mix_orders(history, order, 2 + (static_cast<std::uint64_t>(word_class) << 8), [&](int a, std::uint64_t h) {
    out.word_start[static_cast<std::size_t>(a)] = half + h % span;
    out.word_limit[static_cast<std::size_t>(a)] = std::numeric_limits<std::uint64_t>::max();
    out.word_count = a + 1;
  });
}

}  // namespace rnnlm
