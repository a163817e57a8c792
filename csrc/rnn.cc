#include "rnn.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "errors.h"
#include "names.h"

namespace rnnlm {

Cell parse_cell(const std::string& name) {
  if (auto cell = enum_from_name<Cell>(kCellNames, name)) return *cell;
  throw ConfigError("unknown cell '" + name + "' (expected sigmoid, tanh, relu, gru or lstm)");
}

const char* cell_name(Cell cell) { return enum_name(kCellNames, cell); }

int cell_gates(Cell cell) {
  return cell == Cell::kGru ? 3 : cell == Cell::kLstm ? 4 : 1;
}

std::size_t WeightSpec::size() const {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

std::vector<WeightSpec> weight_shapes(std::int64_t vocab_size, std::int64_t hidden, std::int64_t classes,
                                      Cell cell, std::uint64_t direct, std::int64_t embedding) {
  if (vocab_size < 0 || hidden < 0 || classes < 0 || embedding < 0) {
    throw ConfigError("model sizes must not be negative");
  }
  const std::int64_t V = vocab_size, H = hidden, C = classes, GH = cell_gates(cell) * hidden;
  const std::int64_t EW = embedding > 0 ? embedding : GH;  // an embed row's width
  std::vector<WeightSpec> specs{{"embed", &Model::embed, {V, EW}},            {"recurrent", &Model::recurrent, {GH, H}},
                                {"hidden_bias", &Model::hidden_bias, {GH}}, {"class_w", &Model::class_w, {C, H}},
                                {"class_b", &Model::class_b, {C}},          {"word_w", &Model::word_w, {V, H}},
                                {"word_b", &Model::word_b, {V}}};
  if (direct > 0) specs.push_back({"direct", &Model::direct, {static_cast<std::int64_t>(direct)}});
  if (embedding > 0) specs.push_back({"input_w", &Model::input_w, {GH, embedding}});
  return specs;
}

std::vector<WeightSpec> weight_shapes(const Model& m) {
  return weight_shapes(m.vocab_size(), m.hidden(), m.n_classes(), m.cell(), m.direct_size(), m.embedding());
}

Model::Model(std::int32_t vocab_size, std::int32_t hidden, std::vector<std::int32_t> class_begin,
             Cell cell, std::uint64_t direct_size, int direct_order, DirectHash direct_hash,
             std::int32_t embedding)
    : vocab_size_(vocab_size), hidden_(hidden), cell_(cell), direct_order_(direct_order), direct_hash_(direct_hash),
      embedding_(embedding), class_begin_(std::move(class_begin)) {
  if (vocab_size < 1) throw ConfigError("vocab_size must be positive");
  if (hidden < 1 || hidden > kMaxHidden) throw ConfigError("hidden must be in 1.." + std::to_string(kMaxHidden));
  if (embedding < 0 || embedding > kMaxHidden) {
    throw ConfigError("embedding must be in 0.." + std::to_string(kMaxHidden) + " (0: none)");
  }
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
  if (direct_order < 0 || direct_order > kMaxDirectOrder) {
    throw ConfigError("direct_order must be in 0.." + std::to_string(kMaxDirectOrder));
  }
  if ((direct_size == 0) != (direct_order == 0)) {
    throw ConfigError("direct connections need both a hash size and an order (or neither)");
  }
  if (direct_size > 0 && direct_size < 2 * static_cast<std::uint64_t>(std::max<std::int32_t>(n - 1, max_class_size_))) {
    throw ConfigError("direct hash size must be at least twice the number of classes and of the largest class");
  }
  if (direct_size > kMaxDirectSize) {
    throw ConfigError("direct hash size above 2^" + std::to_string(kMaxDirectSizeLog2) + " weights");
  }
  for (const auto& w :
       weight_shapes(vocab_size, hidden, static_cast<std::int64_t>(n) - 1, cell, direct_size, embedding)) {
    (this->*w.array).assign(w.size(), 0.0f);
  }
}

Model Model::zeros_like() const {
  return Model(vocab_size_, hidden_, class_begin_, cell_, direct_size(), direct_order_, direct_hash_, embedding_);
}

Model Model::thread_view() {
  Model v;
  v.vocab_size_ = vocab_size_;
  v.hidden_ = hidden_;
  v.cell_ = cell_;
  v.direct_order_ = direct_order_;
  v.direct_hash_ = direct_hash_;
  v.embedding_ = embedding_;
  v.class_begin_ = class_begin_;
  v.word_class_ = word_class_;
  v.max_class_size_ = max_class_size_;
  v.embed.borrow(embed);
  v.word_w.borrow(word_w);
  v.word_b.borrow(word_b);
  v.direct.borrow(direct);
  v.input_w.borrow(input_w);  // online training refuses embeddings: never written through a view
  const auto own = dense_arrays();
  const auto copy = v.dense_arrays();
  for (int a = 0; a < kDenseArrays; ++a) *copy[a] = *own[a];
  return v;
}

void Model::init_random(std::uint64_t seed) {
  Rng rng(seed);
  auto fill = [&rng](WeightArray& w) {
    for (auto& x : w) {
      double v = 0;
      for (int k = 0; k < 3; ++k) v += rng.uniform() * 0.2 - 0.1;
      x = static_cast<float>(v);
    }
  };
  fill(embed);
  fill(input_w);  // empty without an embedding: the other arrays' draws are unchanged
  fill(recurrent);
  fill(class_w);
  fill(word_w);
  std::fill(hidden_bias.begin(), hidden_bias.end(), 0.0f);
  if (cell_ == Cell::kLstm) {  // remember by default: forget-gate bias 1
    std::fill(hidden_bias.begin() + hidden_, hidden_bias.begin() + 2 * hidden_, 1.0f);
  }
  std::fill(class_b.begin(), class_b.end(), 0.0f);
  std::fill(word_b.begin(), word_b.end(), 0.0f);
  std::fill(direct.begin(), direct.end(), 0.0f);
}

namespace {

Activation simple_activation(Cell cell) {
  return cell == Cell::kTanh ? Activation::kTanh : cell == Cell::kRelu ? Activation::kRelu : Activation::kSigmoid;
}

}  // namespace

void Model::forward_step(std::int32_t in, const float* h_prev, const float* c_prev, StepState out,
                         StepScratch& scratch) const {
  const int GH = gates() * hidden_;
  scratch.u.resize(static_cast<std::size_t>(GH));
  matvec(recurrent.data(), GH, hidden_, h_prev, nullptr, scratch.u.data());
  cell_update(in, scratch.u.data(), h_prev, c_prev, out);
}

void Model::cell_update(std::int32_t in, const float* u, const float* h_prev, const float* c_prev,
                        StepState out) const {
  const int H = hidden_;
  const int G = gates();
  const float* x = in >= 0 ? embed.data() + static_cast<std::size_t>(in) * embed_width() : nullptr;
  if (x != nullptr && embedding_ > 0) {  // the word's gate inputs: input_w @ its embedding
    thread_local std::vector<float> projected;
    projected.resize(static_cast<std::size_t>(G) * H);
    matvec(input_w.data(), G * H, embedding_, x, nullptr, projected.data());
    x = projected.data();
  }
  const float* b = hidden_bias.data();
  if (G == 1) {
    float* h = out.h;
    for (int i = 0; i < H; ++i) h[i] = u[i] + b[i];
    if (x != nullptr) {
      for (int i = 0; i < H; ++i) h[i] += x[i];
    }
    activate(simple_activation(cell_), h, H);
    return;
  }
  // Gate pre-activations, then the nonlinearities over contiguous blocks (vectorised).
  float* a = out.gates;
  for (int i = 0; i < G * H; ++i) a[i] = b[i] + (x != nullptr ? x[i] : 0.0f);
  if (cell_ == Cell::kGru) {
    float* z = a;
    float* r = a + H;
    float* n = a + 2 * H;
    for (int i = 0; i < 2 * H; ++i) a[i] += u[i];
    activate(Activation::kSigmoid, a, 2 * H);
    for (int i = 0; i < H; ++i) {
      out.un[i] = u[2 * H + i];
      n[i] += r[i] * out.un[i];
    }
    activate(Activation::kTanh, n, H);
    for (int i = 0; i < H; ++i) out.h[i] = (1.0f - z[i]) * n[i] + z[i] * h_prev[i];
    return;
  }
  // LSTM: gates i, f, g, o.
  for (int i = 0; i < 4 * H; ++i) a[i] += u[i];
  activate(Activation::kSigmoid, a, 2 * H);
  activate(Activation::kTanh, a + 2 * H, H);
  activate(Activation::kSigmoid, a + 3 * H, H);
  const float* gi = a;
  const float* gf = a + H;
  const float* gg = a + 2 * H;
  const float* go = a + 3 * H;
  for (int i = 0; i < H; ++i) out.tc[i] = out.c[i] = gf[i] * c_prev[i] + gi[i] * gg[i];
  activate(Activation::kTanh, out.tc, H);
  for (int i = 0; i < H; ++i) out.h[i] = go[i] * out.tc[i];
}

void Model::backward_step(const float* dh, const float* dc, const StepState& st, const float* h_prev,
                          const float* c_prev, float* d_u, float* d_x, float* dh_direct,
                          float* dc_prev) const {
  const int H = hidden_;
  switch (cell_) {
    case Cell::kSigmoid:
    case Cell::kTanh:
    case Cell::kRelu:
      std::memcpy(d_u, dh, sizeof(float) * H);
      mul_activation_derivative(simple_activation(cell_), st.h, d_u, H);
      std::memcpy(d_x, d_u, sizeof(float) * H);
      std::fill(dh_direct, dh_direct + H, 0.0f);
      return;
    case Cell::kGru: {
      const float* z = st.gates;
      const float* r = st.gates + H;
      const float* n = st.gates + 2 * H;
      for (int i = 0; i < H; ++i) {
        const float dn = dh[i] * (1.0f - z[i]);
        const float dz = dh[i] * (h_prev[i] - n[i]);
        const float dan = dn * (1.0f - n[i] * n[i]);
        const float dr = dan * st.un[i];
        d_u[i] = d_x[i] = dz * z[i] * (1.0f - z[i]);
        d_u[H + i] = d_x[H + i] = dr * r[i] * (1.0f - r[i]);
        d_x[2 * H + i] = dan;
        d_u[2 * H + i] = dan * r[i];
        dh_direct[i] = dh[i] * z[i];
      }
      return;
    }
    case Cell::kLstm: {
      const float* gi = st.gates;
      const float* gf = st.gates + H;
      const float* gg = st.gates + 2 * H;
      const float* go = st.gates + 3 * H;
      for (int i = 0; i < H; ++i) {
        const float tc = st.tc[i];
        const float dct = dc[i] + dh[i] * go[i] * (1.0f - tc * tc);
        d_u[i] = dct * gg[i] * gi[i] * (1.0f - gi[i]);
        d_u[H + i] = dct * c_prev[i] * gf[i] * (1.0f - gf[i]);
        d_u[2 * H + i] = dct * gi[i] * (1.0f - gg[i] * gg[i]);
        d_u[3 * H + i] = dh[i] * tc * go[i] * (1.0f - go[i]);
        dc_prev[i] = dct * gf[i];
        dh_direct[i] = 0.0f;
      }
      std::memcpy(d_x, d_u, sizeof(float) * 4 * H);
      return;
    }
  }
}

}  // namespace rnnlm
