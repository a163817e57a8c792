// The class-factored output layer: P(w | h) = P(class(w) | h) * P(w | class(w), h), each a
// softmax shifted by its maximum, with the hashed direct-connection (max-ent) features, if
// any, added to the logits. Forward, log-probability, and the fused backward pass.
#pragma once

#include <cstdint>
#include <vector>

#include "direct.h"
#include "rnn.h"
#include "update_marks.h"

namespace rnnlm {

// Per-thread buffers of the output layer; sized once, reused for every word.
struct OutputScratch {
  explicit OutputScratch(const Model& m)
      : class_p(static_cast<std::size_t>(m.n_classes())),
        word_p(static_cast<std::size_t>(m.max_class_size())) {}
  std::vector<float> class_p;  // P(class | h) after output_forward
  std::vector<float> word_p;   // P(word | class(target), h) for the target's class
  DirectFeatures features;     // the step's hashed features (when the model has them)
};

// Fills `s` and returns ln P(target | h), computed in double from the logits. `history` is
// the direct-connection context, most recent word first (ignored without direct weights). With
// `class_products_ready`, s.class_p already holds class_w * h (batched scoring).
// Reads weights only; thread-safe with a scratch per thread.
double output_forward(const Model& m, const float* h, std::int32_t target, const std::int32_t* history,
                      OutputScratch& s, bool class_products_ready = false);

// After output_forward for the same h and target: adds dlnP/dh (through the weights of
// `m`) to `e_h`, then moves the class rows and the target class's word rows of `dst` by
// lr * gradient, first scaling them by `keep` (L2 decay), and the used direct weights by
// `direct_keep`. Training passes dst == m (Hogwild writes to the shared weights); gradient
// checks pass a zeroed gradient model as dst. With `marks`, the target's class and the
// direct weights written are marked there.
void output_backward_update(const Model& m, Model& dst, const float* h, std::int32_t target,
                            OutputScratch& s, float lr, float keep, float direct_keep, float* e_h,
                            UpdateMarks* marks = nullptr);

// The direct-connection parts, for callers that compute the dense products themselves
// (batched training): add the features' weights of `history` to the class logits z[C] / to
// the word logits z[n] of class c, remembering the features in `f`; then move the weights
// `f` used by lr * gradient (gc: class logits, gw: class c's word logits), after scaling
// them by direct_keep. No-ops without direct weights.
void add_direct_class_logits(const Model& m, const std::int32_t* history, DirectFeatures& f, float* z);
void add_direct_word_logits(const Model& m, const std::int32_t* history, std::int32_t c, DirectFeatures& f,
                            float* z);
void update_direct(const Model& m, Model& dst, const DirectFeatures& f, std::int32_t c, const float* gc,
                   const float* gw, float lr, float direct_keep);

// Marks what an output update for target class c with features `f` wrote: the class's word
// rows and the direct weights used (distributed training combines only what was written).
void mark_output_updates(const Model& m, const DirectFeatures& f, std::int32_t c, UpdateMarks& marks);

// The full distribution over the vocabulary into out[V] (tests, generation).
void output_distribution(const Model& m, const float* h, const std::int32_t* history, OutputScratch& s,
                         float* out);

// Samples a word from P(. | h) with temperature `temperature` (> 0), from uniforms u1, u2.
std::int32_t output_sample(const Model& m, const float* h, const std::int32_t* history, OutputScratch& s,
                           float temperature, double u1, double u2);

}  // namespace rnnlm
