// The model's shared weights (read by every thread, written Hogwild-style while training)
// and the recurrent step. Per-thread state (hidden history, BPTT buffers, output
// probabilities) lives with the trainer and scorer, so scoring a const Model is re-entrant.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"

namespace rnnlm {

// Hidden state after a reset (rnnlm-0.4b's netReset value).
constexpr float kResetHidden = 1.0f;

Activation parse_activation(const std::string& name);  // throws ConfigError
const char* activation_name(Activation act);

class Model {
 public:
  // `class_begin` (size C+1, from 0 to vocab_size, strictly increasing) gives each class's
  // contiguous id range. Throws ConfigError on bad sizes. Weights start at zero.
  Model(std::int32_t vocab_size, std::int32_t hidden, std::vector<std::int32_t> class_begin,
        Activation act);

  // rnnlm-0.4b's initialisation: each weight the sum of three U(-0.1, 0.1), biases zero.
  // Depends only on the seed (never on threads).
  void init_random(std::uint64_t seed);

  std::int32_t vocab_size() const { return vocab_size_; }
  std::int32_t hidden() const { return hidden_; }
  std::int32_t n_classes() const { return static_cast<std::int32_t>(class_begin_.size()) - 1; }
  std::int32_t max_class_size() const { return max_class_size_; }
  Activation activation() const { return act_; }
  const std::vector<std::int32_t>& class_begin() const { return class_begin_; }
  const std::vector<std::int32_t>& word_class() const { return word_class_; }

  // h = act(embed[in] + recurrent h_prev + hidden_bias); `in` < 0 adds no embedding.
  // Reads weights only; thread-safe.
  void hidden_step(std::int32_t in, const float* h_prev, float* h) const;

  // Weights, row-major. Public: the trainer updates them in place, Python views them.
  std::vector<float> embed;        // V x H, row w = input embedding of word w
  std::vector<float> recurrent;    // H x H, h_t[i] += recurrent[i, j] h_{t-1}[j]
  std::vector<float> hidden_bias;  // H
  std::vector<float> class_w;      // C x H
  std::vector<float> class_b;      // C
  std::vector<float> word_w;       // V x H
  std::vector<float> word_b;       // V

 private:
  std::int32_t vocab_size_;
  std::int32_t hidden_;
  Activation act_;
  std::vector<std::int32_t> class_begin_;
  std::vector<std::int32_t> word_class_;
  std::int32_t max_class_size_ = 0;
};

// splitmix64: a tiny, seedable generator whose stream is the same on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

}  // namespace rnnlm
