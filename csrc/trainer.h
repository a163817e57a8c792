// One training epoch of online SGD with truncated BPTT (rnnlm-0.4b's algorithm), run in one
// OpenMP region: each thread streams its own contiguous shard of sentences with its own
// state. Sparse weights are updated in place without locks (Hogwild); the dense ones each
// thread keeps private and merges every few dozen words. The learning-rate schedule across
// epochs lives in Python (rnnlm_fast/schedule.py), which owns restore and resume.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "class_softmax.h"
#include "rnn.h"
#include "update_marks.h"

namespace rnnlm {

// The options of one epoch, declared once as X(type, name, help) lists that generate the
// struct's fields and the binding's conversion from Python keywords. The first list is
// rnnlm_fast/options.py's EPOCH, in its order (Python sees it as _core.EPOCH_OPTIONS; a test
// checks the two agree); the second says how this run executes and is not recorded.
#define RNNLM_EPOCH_OPTIONS(X)                                                               \
  X(float, lr, "learning rate (rnnlm-0.4b's alpha)")                                          \
  X(float, l2, "L2 decay per update, applied every 10th word (rnnlm-0.4b's beta)")            \
  X(int, bptt, "steps of backpropagation through time (1 = plain BP)")                       \
  X(int, bptt_block, "words between BPTT updates")                                           \
  X(bool, independent, "reset the state at each sentence")                                   \
  X(float, gradient_cutoff, "errors reaching the hidden layer are clipped to +-this")        \
  X(float, dropout, "drop rate of the hidden units feeding the output layer")                \
  X(float, input_dropout, "rate at which a step's input word is dropped (no embedding)")
#define RNNLM_RUN_OPTIONS(X)                                                                 \
  X(std::uint64_t, seed, "of the dropout masks (each stream derives its own)")               \
  X(int, threads, "threads of the epoch's OpenMP region")                                    \
  X(int, streams, "independent streams per thread, advanced in lockstep (batch_trainer.h)")

// The fields' names in declaration order: EPOCH's (the first kEpochOptionCount), then the run's.
#define RNNLM_OPTION_NAME(type, name, help) #name,
#define RNNLM_OPTION_ONE(type, name, help) +1
inline constexpr const char* kTrainOptionNames[] = {RNNLM_EPOCH_OPTIONS(RNNLM_OPTION_NAME)
                                                        RNNLM_RUN_OPTIONS(RNNLM_OPTION_NAME)};
inline constexpr std::size_t kEpochOptionCount = 0 RNNLM_EPOCH_OPTIONS(RNNLM_OPTION_ONE);
#undef RNNLM_OPTION_NAME
#undef RNNLM_OPTION_ONE

// Every field must be set by the caller: the defaults live in one Python table
// (rnnlm_fast/options.py), so none are repeated here; a value-initialised TrainOptions is
// all zeros and fails validate().
struct TrainOptions {
#define RNNLM_OPTION_FIELD(type, name, help) type name{};
  RNNLM_EPOCH_OPTIONS(RNNLM_OPTION_FIELD)
  RNNLM_RUN_OPTIONS(RNNLM_OPTION_FIELD)
#undef RNNLM_OPTION_FIELD
  // The engine's own preconditions (they protect memory and the arithmetic, not policy):
  // lr > 0, l2 >= 0, gradient_cutoff > 0, bptt in 1..kMaxBptt, bptt_block in 1..kMaxBpttBlock,
  // threads in 1..kMaxThreads, streams in 1..kMaxStreams (engine_limits.h), dropout rates in
  // [0, 1). Throws ConfigError.
  void validate() const;
};

struct EpochStats {
  double logprob = 0;        // sum of ln P over scored words
  std::int64_t words = 0;    // scored words (targets in the vocabulary)
  std::int64_t processed = 0;  // all positions processed
  bool diverged = false;     // NaN/Inf met; training stopped at once
  std::int64_t diverged_at = -1;  // position of the first non-finite probability
  bool interrupted = false;  // the progress callback asked to stop
};

// Called on the calling thread about five times a second with (positions processed, ln-prob
// sum so far); returns false to stop the epoch.
using TrainProgress = std::function<bool(std::int64_t, double)>;

// Trains `m` for one pass over sentences [0, n_sentences). Sentence i is
// ids[offsets[i] .. offsets[i+1]); ids are checked by the caller to lie in [-1, V).
// When `position_logprob` is given, ln P of each position, computed before the update it
// causes, is stored there (0 where the target is not scored): dynamic evaluation reads it.
// Throws ConfigError; other engine errors from a worker are rethrown after the region.
// Online training (BpttStream, BatchedStreams) has no embedding layer: throws ConfigError for a
// model with one.
void refuse_embedding(const Model& m);

EpochStats train_epoch(Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                       std::int64_t n_sentences, const TrainOptions& o,
                       const TrainProgress& progress, double* position_logprob = nullptr);

// The gradient of ln P(sentence) with full BPTT (no truncation, no clipping below 1e30)
// for one sentence `ids` (ending with </s>) from the reset state: the C++ half of the
// finite-difference and NumPy-reference checks. Returns a model holding the gradients.
// Throws ConfigError for an empty sentence or one over kMaxGradientWords words.
Model sentence_gradient(const Model& m, const std::int32_t* ids, std::int64_t n);

// What the gradient checks train with (sentence_gradient, batch_gradient): lr 1, no decay, no
// clipping below 1e30, one thread, full BPTT over sentences of up to `longest` words (ConfigError
// above kMaxGradientWords). `who` names the caller in the message.
TrainOptions gradient_options(std::int64_t longest, const char* who);

// One stream of training: the state history and BPTT buffers of one thread.
class BpttStream {
 public:
  // `stream_id` tells the dropout masks of parallel streams apart. With `marks`, the sparse
  // weights each step writes are marked there (it must outlive the stream).
  BpttStream(const Model& m, const TrainOptions& o, int stream_id = 0, UpdateMarks* marks = nullptr);
  // Back to the reset state; forgets the history.
  void reset();
  // Processes the transition in -> target (target < 0: not scored, no output update).
  // Returns ln P(target) (0 when not scored). Reads the weights of `m` and applies the
  // updates to `dst`: the same model when training, a zeroed gradient model for checks.
  double step(const Model& m, Model& dst, std::int32_t in, std::int32_t target,
              bool sentence_end);

 private:
  // Ring slot of time t (t >= -1; slot of -1 holds the reset state).
  std::size_t slot(std::int64_t t) const { return static_cast<std::size_t>((t + 1) % capacity_); }
  StepState state_at(std::int64_t t);
  float* h_at(std::int64_t t) { return hist_h_.data() + slot(t) * hidden_; }
  float* c_at(std::int64_t t) { return hist_c_.data() + slot(t) * hidden_; }
  float* e_at(std::int64_t t) { return hist_e_.data() + slot(t) * hidden_; }
  void backprop_through_time(const Model& m, Model& dst, int n_steps, float keep);

  TrainOptions o_;
  int hidden_;
  int gates_;
  int max_steps_;
  std::int64_t capacity_;
  std::vector<float> hist_h_;          // hidden state at times t = -1, 0, 1, ... (ring)
  std::vector<float> hist_c_;          // LSTM cell state
  std::vector<float> hist_gates_;      // gate activations (gated cells)
  std::vector<float> hist_un_;         // GRU's U_n h_prev
  std::vector<float> hist_tc_;         // LSTM tanh(c)
  std::vector<float> hist_e_;          // output error reaching the hidden layer at time t
  std::vector<std::int32_t> hist_in_;  // input word at time t
  // Applies a fresh dropout mask to h (into drop_h_); returns what the output layer reads.
  const float* dropped_out(const float* h);

  std::vector<float> d_u_, d_x_, x_, e_, e_prev_, dh_direct_, dc_, dc_prev_;
  std::vector<float> drop_mask_, drop_h_;  // dropout: 0 or 1/(1-p) per unit, and h masked
  StepScratch step_scratch_;
  OutputScratch out_;
  NgramHistory ngram_;
  float reset_value_;
  Rng rng_;  // dropout masks
  UpdateMarks* marks_;
  std::int64_t n_ = 0;        // steps since the last reset
  std::int64_t counter_ = 0;  // steps since the stream began (decay and block timing)
};

}  // namespace rnnlm
