#include "rnn.h"

#include <algorithm>

#include "errors.h"

namespace rnnlm {

Activation parse_activation(const std::string& name) {
  if (name == "sigmoid") return Activation::kSigmoid;
  if (name == "tanh") return Activation::kTanh;
  if (name == "relu") return Activation::kRelu;
  throw ConfigError("unknown activation '" + name + "' (expected sigmoid, tanh or relu)");
}

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kTanh:
      return "tanh";
    case Activation::kRelu:
      return "relu";
  }
  return "?";
}

Model::Model(std::int32_t vocab_size, std::int32_t hidden, std::vector<std::int32_t> class_begin,
             Activation act)
    : vocab_size_(vocab_size), hidden_(hidden), act_(act), class_begin_(std::move(class_begin)) {
  if (vocab_size < 1) throw ConfigError("vocab_size must be positive");
  if (hidden < 1 || hidden > 100000) throw ConfigError("hidden must be in 1..100000");
  const std::size_t n = class_begin_.size();
  if (n < 2 || class_begin_.front() != 0 || class_begin_.back() != vocab_size) {
    throw ConfigError("class_begin must run from 0 to vocab_size with at least one class");
  }
  word_class_.resize(static_cast<std::size_t>(vocab_size));
  for (std::size_t c = 0; c + 1 < n; ++c) {
    if (class_begin_[c + 1] <= class_begin_[c]) throw ConfigError("empty or unordered class in class_begin");
    max_class_size_ = std::max(max_class_size_, class_begin_[c + 1] - class_begin_[c]);
    for (auto w = class_begin_[c]; w < class_begin_[c + 1]; ++w) word_class_[w] = static_cast<std::int32_t>(c);
  }
  const std::size_t V = vocab_size, H = hidden, C = n - 1;
  embed.assign(V * H, 0.0f);
  recurrent.assign(H * H, 0.0f);
  hidden_bias.assign(H, 0.0f);
  class_w.assign(C * H, 0.0f);
  class_b.assign(C, 0.0f);
  word_w.assign(V * H, 0.0f);
  word_b.assign(V, 0.0f);
}

void Model::init_random(std::uint64_t seed) {
  Rng rng(seed);
  auto fill = [&rng](std::vector<float>& w) {
    for (auto& x : w) {
      double v = 0;
      for (int k = 0; k < 3; ++k) v += rng.uniform() * 0.2 - 0.1;
      x = static_cast<float>(v);
    }
  };
  fill(embed);
  fill(recurrent);
  fill(class_w);
  fill(word_w);
  std::fill(hidden_bias.begin(), hidden_bias.end(), 0.0f);
  std::fill(class_b.begin(), class_b.end(), 0.0f);
  std::fill(word_b.begin(), word_b.end(), 0.0f);
}

void Model::hidden_step(std::int32_t in, const float* h_prev, float* h) const {
  const int H = hidden_;
  matvec(recurrent.data(), H, H, h_prev, hidden_bias.data(), h);
  if (in >= 0) {
    const float* e = embed.data() + static_cast<std::size_t>(in) * H;
    for (int i = 0; i < H; ++i) h[i] += e[i];
  }
  activate(act_, h, H);
}

}  // namespace rnnlm
