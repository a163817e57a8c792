// The class-factored output layer over all scored positions of a block at once (block
// training, block_trainer.h): the class layer as one product over the block (or over each
// thread's rows), the word layer as one product per target class over the block's positions
// predicting it (each thread a set of classes); direct connections stay sparse, per position.
// Gradients are of L = scale * -sum ln P.
#pragma once

#include <cstdint>
#include <vector>

#include "parallel_parts.h"
#include "block_sgemm.h"
#include "direct.h"
#include "rnn.h"
#include "update_marks.h"

namespace rnnlm {

class BlockOutput {
 public:
  // Buffers for up to `capacity` positions, the work of a block cut into `parts` parts (one per
  // thread: parallel_parts.h), allocated once.
  BlockOutput(const Model& m, int capacity, int parts);

  // A block's output layer runs in three steps: prepare (serial), class_forward over rows, then
  // word_pass per part; then class_gradient, word_update and add_direct_gradient as needed.
  // L = scale * -sum ln P; the steps read the weights only. One part (the rows [0, n)) does
  // exactly the arithmetic of the serial layer.

  // Takes the block's n positions (n <= capacity): h is n x H (row i for position i, read again
  // by class_forward), targets in [0, V), histories[i] the direct-connection context of position i
  // (most recent word first; ignored without direct weights). Sorts the rows by target class and
  // cuts the used classes into the parts, contiguous sets of about equal cost.
  void prepare(const Model& m, int n, const float* h, const std::int32_t* targets,
               const std::int32_t* const* histories, float scale);

  // The class layer on sorted rows [r0, r1): lp[i] = the class part of ln P for their positions i.
  // Calls on disjoint rows may run concurrently.
  void class_forward(const Model& m, int r0, int r1, double* lp);

  // After class_forward over every row, part p's classes and their rows: the word layer (lp[i] +=
  // the word part of ln P), d_h rows (n x H, position order) = dL/dh, the gradient of the classes'
  // word biases into the same entries of g_word_b (overwritten). Returns the squared norm of the
  // part's word_w gradient, which it keeps in g_word_w only for the classes where that is cheaper
  // than forming it again in word_update (a class with few rows gets its norm from two small Gram
  // matrices instead). Distinct parts may run concurrently.
  double word_pass(const Model& m, int p, double* lp, float* d_h, float* g_word_w, float* g_word_b);

  // After every word_pass: rows [c0, c1) of the class_w gradient and entries [c0, c1) of the
  // class_b gradient into g_class_w / g_class_b (overwritten). Disjoint ranges may run concurrently.
  void class_gradient(const Model& m, int c0, int c1, float* g_class_w, float* g_class_b) const;

  // After every word_pass: w = beta * w + alpha * (word_w gradient) on the rows of part p's classes
  // of a V x H array `w` (the model's word_w to update it, a gradient array with beta 0 to read
  // it); `g_word_w` is the array word_pass was given. Distinct parts may run concurrently.
  void word_update(const Model& m, int p, const float* g_word_w, float* w, float alpha, float beta) const;

  // target[i] += factor * dL/d direct[i] for every direct weight the block used (sparse;
  // scatter in position order, so deterministic; serial: hashed features may collide). No-op
  // without direct weights.
  void add_direct_gradient(const Model& m, float* target, float factor) const;

  // Marks the word classes and direct weights the block's update writes.
  void mark_updates(const Model& m, UpdateMarks& marks) const;

  // The classes predicted in the block, in increasing order; part p's are entries part_classes(p).
  const std::vector<std::int32_t>& used_classes() const { return used_; }
  PartRange part_classes(int p) const;

 private:
  // One class's word layer (group g of used_): the forward with its dL/dlogits and the word part
  // of dL/dh (word_forward); the word bias gradient and the word_w gradient's squared norm added
  // to norm2 (word_backward).
  void word_forward(const Model& m, std::size_t g, double* lp);
  void word_backward(const Model& m, std::size_t g, float* gram_z, float* gram_h, float* g_word_w,
                     float* g_word_b, double& norm2);
  void cut_parts(const Model& m);

  int n_ = 0, parts_ = 1;
  float scale_ = 1.0f;                    // of the loss, L = scale * -sum ln P
  const float* h_in_ = nullptr;           // prepare's h (position order)
  const std::int32_t* const* histories_ = nullptr;
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
  std::vector<int> part_start_;           // group where each part starts, then used_.size()
  std::vector<double> cost_;              // cut_parts' cumulative cost per group
  std::vector<int> count_;                // per class: rows (counting sort)
  // Per used class, where its word_w gradient is: kStored in g_word_w; kGram formed by the update's
  // product (norm from Gram matrices); kSmall (at most kSmallRows rows) formed by the update's own
  // rank-n loop (norm from dot products).
  enum : std::uint8_t { kGram = 0, kStored = 1, kSmall = 2 };
  std::vector<std::uint8_t> stored_;
  static constexpr int kGramRows = 128;   // most rows of a class whose norm comes from Gram matrices
  std::vector<float> gram_z_, gram_h_;    // kGramRows x kGramRows per part
};

}  // namespace rnnlm
