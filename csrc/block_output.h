// The class-factored output layer over all scored positions of a block at once (block
// training, block_trainer.h): the class layer as one product over the block, the word layer
// as one product per target class over the block's positions predicting it; direct
// connections stay sparse, per position. Gradients are of L = scale * -sum ln P.
#pragma once

#include <cstdint>
#include <vector>

#include "direct.h"
#include "rnn.h"

namespace rnnlm {

// blas::sgemm, timed: the seconds spent in it on this thread accumulate in block_sgemm_seconds()
// (the block trainer reports the share of its time outside the products).
void block_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
double& block_sgemm_seconds();

// Profiling: the shapes of the block_sgemm calls made on this thread while recording, and
// the same calls replayed alone on scratch operands (returns their seconds; `flops` gets
// 2 m n k summed). Not for production paths.
struct GemmShape {
  bool trans_a, trans_b;
  int m, n, k, lda, ldb, ldc;
  float beta;
};
void block_sgemm_record(std::vector<GemmShape>* into);  // nullptr: stop recording
double block_sgemm_replay(const std::vector<GemmShape>& calls, double* flops);

class BlockOutput {
 public:
  // Buffers for up to `capacity` positions, allocated once.
  BlockOutput(const Model& m, int capacity);

  // ln P(targets[i] | h[i]) into lp[i] for i < n (n <= capacity); h is n x H (row i for
  // position i), targets in [0, V), histories[i] the direct-connection context of position i
  // (most recent word first; ignored without direct weights). Reads the weights only; keeps
  // what backward needs, and already forms the word layer's part of dL/dh for L = scale * -sum
  // ln P (class by class, while its word_w rows are in cache).
  void forward(const Model& m, int n, const float* h, const std::int32_t* targets,
               const std::int32_t* const* histories, double* lp, float scale);

  // After forward: d_h (n x H, row i for position i) = dL/dh with L = scale * -sum_i ln P_i;
  // the gradients of class_w, class_b into g_class_w / g_class_b (overwritten), of each used
  // class's word biases into the same entries of g_word_b (overwritten; used_classes() lists
  // the classes). Returns the squared norm of the word_w gradient, which it keeps in g_word_w
  // only for the classes where that is cheaper than forming it again in word_update (a class
  // with few rows gets its norm from two small Gram matrices instead).
  double backward(const Model& m, float* d_h, float* g_class_w, float* g_class_b, float* g_word_w,
                  float* g_word_b);

  // After backward: w = beta * w + alpha * (word_w gradient) on the used classes' rows of a
  // V x H array `w` (the model's word_w to update it, a gradient array with beta 0 to read
  // it); `g_word_w` is the array backward was given. Reads the weights only through w.
  void word_update(const Model& m, const float* g_word_w, float* w, float alpha, float beta) const;

  // target[i] += factor * dL/d direct[i] for every direct weight the block used (sparse;
  // scatter in position order, so deterministic). No-op without direct weights.
  void add_direct_gradient(const Model& m, float* target, float factor) const;

  // The classes predicted in the last forward, in increasing order.
  const std::vector<std::int32_t>& used_classes() const { return used_; }

 private:
  int n_ = 0;
  float scale_ = 1.0f;                    // of the loss, L = scale * -sum ln P
  std::vector<int> order_;                // sorted row i -> position (by class, stable)
  std::vector<std::int32_t> row_class_;   // class of sorted row i
  std::vector<std::int32_t> row_word_;    // target's index within its class, sorted row i
  std::vector<float> h_;                  // n x H in sorted order
  std::vector<float> class_z_;            // n x C: logits -> probabilities -> dL/dlogits
  std::vector<float> word_z_;             // packed per group: n_c x nc each (grows as needed)
  std::vector<std::int64_t> word_off_;    // start of each sorted row's word values in word_z_
  std::vector<float> d_h_;                // n x H in sorted order
  std::vector<DirectFeatures> features_;  // per sorted row
  std::vector<std::int32_t> used_;        // classes present, increasing
  std::vector<int> group_start_;          // sorted row where each used class starts, then n
  std::vector<int> count_;                // per class: rows (counting sort)
  // Per used class, where its word_w gradient is: kStored in g_word_w; kGram formed by the update's
  // product (norm from Gram matrices); kSmall (at most kSmallRows rows) formed by the update's own
  // rank-n loop (norm from dot products).
  enum : std::uint8_t { kGram = 0, kStored = 1, kSmall = 2 };
  std::vector<std::uint8_t> stored_;
  static constexpr int kGramRows = 128;   // most rows of a class whose norm comes from Gram matrices
  std::vector<float> gram_z_, gram_h_;    // kGramRows x kGramRows
};

}  // namespace rnnlm
