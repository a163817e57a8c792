// The class-factored output layer for a batch of rows (the streams of a training thread, the
// lanes of the scorer): the class layer as one matrix product over the batch, the word layer
// grouped by target class so that rows predicting words of the same class share one product
// over that class's rows; direct connections stay sparse, per row.
#pragma once

#include <cstdint>
#include <vector>

#include "direct.h"
#include "rnn.h"
#include "update_marks.h"

namespace rnnlm {

// Buffers for up to `rows` rows; sized once, reused every step.
struct BatchOutputScratch {
  BatchOutputScratch(const Model& m, int rows);
  int capacity;
  std::vector<int> order;       // rows sorted by target class (stable)
  std::vector<float> h;         // the rows' hidden vectors in that order (n x H)
  std::vector<float> class_z;   // class logits -> probabilities -> gradients (n x C)
  std::vector<float> word_z;    // each row's in-class word values (n x max class size)
  std::vector<float> e;         // dlnP/dh in sorted order (n x H)
  std::vector<DirectFeatures> features;
  std::vector<std::int64_t> groups;  // starts of runs of one class in sorted order, then n
};

// ln P(targets[i] | h_rows[i]) into lp[i] for i < n (n <= capacity); targets >= 0;
// histories[i] is row i's direct-connection context (most recent word first) or nullptr.
// Reads the weights only. Leaves the probabilities in `s` for batch_output_backward.
void batch_output_forward(const Model& m, int n, const float* const* h_rows, const std::int32_t* targets,
                          const std::int32_t* const* histories, BatchOutputScratch& s, double* lp);

// After batch_output_forward with the same arguments: e_rows[i] = dlnP_i/dh through the
// weights of `m` as they were, then dst's class rows, the used classes' word rows (scaled by
// `keep` first, the L2 decay), biases and used direct weights (scaled by `direct_keep`) move
// by lr times the sum of the rows' gradients. dst == m when training. With `marks`, the
// classes and direct weights written are marked there.
void batch_output_backward(const Model& m, Model& dst, int n, const std::int32_t* targets, BatchOutputScratch& s,
                           float lr, float keep, float direct_keep, float* const* e_rows,
                           UpdateMarks* marks = nullptr);

}  // namespace rnnlm
