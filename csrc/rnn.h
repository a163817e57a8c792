// The model's shared weights (read by every thread, written Hogwild-style while training)
// and the recurrent cell: forward and backward of one step. Per-thread state (hidden
// history, BPTT buffers, output probabilities) lives with the trainer and scorer, so
// scoring a const Model is re-entrant.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "direct.h"
#include "kernels.h"
#include "engine_limits.h"
#include "weights.h"

namespace rnnlm {

// sigmoid/tanh/relu: rnnlm-0.4b's Elman layer h = f(E[w] + R h + b).
// gru:  z, r = sigmoid(E_zr[w] + b_zr + U_zr h), n = tanh(E_n[w] + b_n + r * (U_n h)),
//       h' = (1 - z) * n + z * h.
// lstm: i, f, o = sigmoid(.), g = tanh(.) of E[w] + b + U h; c' = f * c + i * g; h' = o * tanh(c').
enum class Cell : std::int32_t { kSigmoid = 0, kTanh = 1, kRelu = 2, kGru = 3, kLstm = 4 };
// The cells' names, indexed by Cell (Python's _core.CELLS).
inline constexpr std::array<const char*, 5> kCellNames = {"sigmoid", "tanh", "relu", "gru", "lstm"};

Cell parse_cell(const std::string& name);  // throws ConfigError
const char* cell_name(Cell cell);
int cell_gates(Cell cell);  // rows of the recurrent matrix per hidden unit: 1, 3 or 4

// One step's values that the backward pass needs; views into caller-owned buffers.
struct StepState {
  float* h;      // H, the output of the step
  float* c;      // H, LSTM cell state (unused otherwise)
  float* gates;  // G*H: GRU z, r, n; LSTM i, f, g, o (unused for simple cells)
  float* un;     // H, GRU's U_n h_prev (unused otherwise)
  float* tc;     // H, LSTM tanh(c) (unused otherwise)
};

// Scratch of one step's forward pass.
struct StepScratch {
  std::vector<float> u;  // G*H
};

class Model {
 public:
  // `class_begin` (size C+1, from 0 to vocab_size, strictly increasing) gives each class's
  // contiguous id range. `direct_size` weights of hashed n-gram features of orders
  // 0..direct_order-1 (0 = none), hashed by `direct_hash`. Throws ConfigError on bad sizes.
  // Weights start at zero, allocated as weight_shapes() says.
  // `embedding` > 0: words enter through a shared embedding of that width (embed V x E, then
  // input_w, G*H x E); 0: each word has its own G*H input row (rnnlm-0.4b's layout).
  Model(std::int32_t vocab_size, std::int32_t hidden, std::vector<std::int32_t> class_begin, Cell cell,
        std::uint64_t direct_size = 0, int direct_order = 0, DirectHash direct_hash = DirectHash::kSplitmix,
        std::int32_t embedding = 0);

  // rnnlm-0.4b's initialisation: each weight the sum of three U(-0.1, 0.1), biases zero
  // (an LSTM's forget-gate bias 1), direct weights zero. Depends only on the seed.
  void init_random(std::uint64_t seed);

  std::int32_t vocab_size() const { return vocab_size_; }
  std::int32_t hidden() const { return hidden_; }
  int gates() const { return cell_gates(cell_); }
  std::int32_t embedding() const { return embedding_; }
  // Width of an embed row: the embedding, or G*H without one.
  int embed_width() const { return embedding_ > 0 ? embedding_ : gates() * hidden_; }
  std::int32_t n_classes() const { return static_cast<std::int32_t>(class_begin_.size()) - 1; }
  std::int32_t max_class_size() const { return max_class_size_; }
  Cell cell() const { return cell_; }
  bool has_cell_state() const { return cell_ == Cell::kLstm; }
  // Hidden (and cell) state after a reset: rnnlm-0.4b's 1.0 for simple cells, 0 for gated.
  float reset_value() const { return cell_ == Cell::kGru || cell_ == Cell::kLstm ? 0.0f : 1.0f; }
  std::uint64_t direct_size() const { return direct.size(); }
  int direct_order() const { return direct_order_; }
  DirectHash direct_hash() const { return direct_hash_; }
  const std::vector<std::int32_t>& class_begin() const { return class_begin_; }
  const std::vector<std::int32_t>& word_class() const { return word_class_; }

  // One step from (h_prev, c_prev) with input word `in` (< 0: no input) into `out`.
  // Reads weights only; thread-safe with per-thread buffers.
  void forward_step(std::int32_t in, const float* h_prev, const float* c_prev, StepState out,
                    StepScratch& scratch) const;

  // The same step split in two, for batched callers: u = recurrent * h_prev (G*H, computed
  // by the caller, e.g. with matvec_batch), then the cell's elementwise update.
  void cell_update(std::int32_t in, const float* u, const float* h_prev, const float* c_prev,
                   StepState out) const;

  // Backward of one step. Given dh (dL/dh of this step's output) and dc (LSTM: dL/dc from
  // the next step, else ignored), writes d_u (G*H, gradient of the recurrent pre-activations,
  // for dR and for R^T), d_x (G*H, gradient of the input pre-activations, for the embedding
  // row and the bias; equal to d_u except for the GRU), dh_direct (H, GRU's path to h_prev,
  // zeros otherwise) and dc_prev (LSTM). Reads weights only.
  void backward_step(const float* dh, const float* dc, const StepState& st, const float* h_prev,
                     const float* c_prev, float* d_u, float* d_x, float* dh_direct, float* dc_prev) const;

  // A model for one of several training threads: the sparsely written arrays (embeddings,
  // word layer, direct) are borrowed from this model, the densely written ones (recurrent,
  // hidden bias, class layer) are private copies that the trainer merges back now and then,
  // so threads do not fight over the cache lines every word writes. Keep `this` alive.
  Model thread_view();

  // A model of the same sizes, cell and direct hashing with every weight zero: what the
  // gradient checks accumulate into.
  Model zeros_like() const;

  // The densely written arrays a thread view keeps private: recurrent, hidden_bias,
  // class_w, class_b (in that order).
  static constexpr int kDenseArrays = 4;
  std::array<WeightArray*, kDenseArrays> dense_arrays() {
    return {&recurrent, &hidden_bias, &class_w, &class_b};
  }

  // Weights, row-major. Public: the trainer updates them in place, Python views them.
  WeightArray embed;        // V x G*H, row w = input of word w for each gate (V x E with an embedding)
  WeightArray input_w;      // G*H x E: embedding -> gate inputs (empty without an embedding)
  WeightArray recurrent;    // G*H x H
  WeightArray hidden_bias;  // G*H
  WeightArray class_w;      // C x H
  WeightArray class_b;      // C
  WeightArray word_w;       // V x H
  WeightArray word_b;       // V
  WeightArray direct;       // hashed direct connections, max-ent n-gram features (may be empty)

 private:
  Model() = default;

  std::int32_t vocab_size_ = 0;
  std::int32_t hidden_ = 0;
  Cell cell_ = Cell::kSigmoid;
  int direct_order_ = 0;
  DirectHash direct_hash_ = DirectHash::kSplitmix;
  std::int32_t embedding_ = 0;
  std::vector<std::int32_t> class_begin_;
  std::vector<std::int32_t> word_class_;
  std::int32_t max_class_size_ = 0;
};

// One weight array of a model: its name (in model files and Python), its member, its shape.
struct WeightSpec {
  const char* name;
  WeightArray Model::*array;
  std::vector<std::int64_t> shape;  // row-major
  std::size_t size() const;         // product of the shape
};

// The weights of a model of these sizes, in this order: embed (V, G*H), recurrent (G*H, H),
// hidden_bias (G*H), class_w (C, H), class_b (C), word_w (V, H), word_b (V), direct (direct)
// when direct > 0, and input_w (G*H, E) when embedding E > 0 (embed is then (V, E));
// G = cell_gates(cell). The one table behind Model's allocation,
// Python's views and the model loader's checks. Throws ConfigError on negative sizes;
// checks nothing else. Pure; thread-safe.
std::vector<WeightSpec> weight_shapes(std::int64_t vocab_size, std::int64_t hidden, std::int64_t classes,
                                      Cell cell, std::uint64_t direct, std::int64_t embedding = 0);
std::vector<WeightSpec> weight_shapes(const Model& m);

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
