// Block-synchronous mini-batch training (issue 27; tests/reference_block.py is its NumPy oracle): the
// corpus cut into B streams of whole sentences, all advanced T steps per block with the
// weights fixed; the output layer over the block's T*B positions at once; exact BPTT through
// the block; one clipped SGD update per block. The products go through blas.h (few, large
// sgemm calls); the elementwise cell code is block_cell.h's fused kernels. With `threads` > 1
// each phase of a block is split over OpenMP threads (parallel_parts.h): the recurrence and BPTT
// by streams, the output layer by rows and by classes, the gradients and the update by ranges of
// each array; every reduction has one fixed order per thread count, so a run is reproducible.
#pragma once

#include <cstdint>
#include <vector>

#include "block_cell.h"
#include "block_output.h"
#include "direct.h"
#include "engine_limits.h"
#include "parallel_parts.h"
#include "rnn.h"
#include "trainer.h"
#include "update_marks.h"

namespace rnnlm {

// The options of one block epoch, declared once as an X(type, name, help) list that generates the
// struct's fields and the binding's constructor, attributes and conversion from a dict.
#define RNNLM_BLOCK_OPTIONS(X)                                                                     \
  X(float, lr, "learning rate of the block's gradient")                                           \
  X(float, l2, "L2 decay of recurrent and class_w, per update: W -= lr * l2 * W")                 \
  X(float, clip_norm, "global gradient-norm clip (0: no clipping)")                                \
  X(float, dropout, "drop rate of the hidden units feeding the output layer (and of the embedding)") \
  X(float, input_dropout, "rate at which a position's input word is dropped (no input projection)") \
  X(int, batch, "B, streams advanced side by side")                                                \
  X(int, steps, "T, steps per block (truncated BPTT length)")                                      \
  X(bool, independent, "reset a stream's state after every sentence")                             \
  X(std::uint64_t, seed, "of the dropout masks (stream b: seed + 0x9E3779B97F4A7C15 * (b + 1))")   \
  X(int, threads, "OpenMP threads over each phase of a block (block_trainer.cc says why)")

#define RNNLM_OPTION_NAME(type, name, help) #name,
inline constexpr const char* kBlockOptionNames[] = {RNNLM_BLOCK_OPTIONS(RNNLM_OPTION_NAME)};
#undef RNNLM_OPTION_NAME

// Every field must be set by the caller: the defaults live in rnnlm_fast/options.py.
struct BlockTrainOptions {
#define RNNLM_OPTION_FIELD(type, name, help) type name{};
  RNNLM_BLOCK_OPTIONS(RNNLM_OPTION_FIELD)
#undef RNNLM_OPTION_FIELD
  // lr > 0, l2 >= 0, clip_norm >= 0, dropout in [0, 1), batch in 1..kMaxBatch, steps in 1..kMaxBptt,
  // threads in 1..kMaxThreads, batch * steps <= kMaxBlockPositions; all finite. Throws ConfigError
  // with a one-line message.
  void validate() const;
};

// Statistics of a block epoch: EpochStats plus where the time went.
struct BlockEpochStats {
  EpochStats stats;
  std::int64_t blocks = 0;   // updates applied
  double seconds = 0;        // wall time of the epoch
  double gemm_seconds = 0;   // of which the calling thread spent inside blas::sgemm
};

class BlockTrainer {
 public:
  // Buffers for a model of m's sizes and o.batch x o.steps blocks, allocated once. Validates o.
  // With `marks` (made for m; they must outlive the trainer), every update marks the embedding
  // rows, word classes and direct blocks it wrote (distributed training syncs those).
  BlockTrainer(const Model& m, const BlockTrainOptions& o, UpdateMarks* marks = nullptr);

  // One epoch over sentences [0, n_sentences) (sentence i is ids[offsets[i] .. offsets[i+1]),
  // ids checked by the caller to lie in [-1, V)), updating `m` in place once per block.
  // `progress` is called from the calling thread about 5 times a second with (positions
  // processed, ln-prob sum); false stops the epoch (interrupted). NaN/Inf stops it at once
  // (diverged; that block's update not applied). Not thread-safe (one trainer per caller).
  BlockEpochStats train_epoch(Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                              std::int64_t n_sentences, const TrainProgress& progress);

  // The same epoch in parts, the streams kept between them (distributed training changes the
  // weights in between): begin_epoch, then train_until with growing `until` (positions), each
  // call training whole blocks until r.stats.processed >= until or the epoch ends (epoch_done).
  // One epoch in parts with one thread computes what train_epoch computes, bit for bit.
  void begin_epoch(const Model& m, const std::int32_t* ids, const std::int64_t* offsets, std::int64_t n_sentences);
  void train_until(Model& m, std::int64_t until, BlockEpochStats& r, const TrainProgress& progress);
  // Every stream done since begin_epoch, or the epoch stopped (diverged, interrupted).
  bool epoch_done() const { return !streams_left_; }

  // The gradient of the first block's loss L = -(1/B) sum ln P (B streams x T steps from the
  // reset state; no dropout, clipping or update) w.r.t. every weight of `m`, written into
  // `grad` (a zeroed model of m's shape); returns L. Reads `m` only.
  double block_gradient(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                        std::int64_t n_sentences, Model& grad);

 private:
  // After start_streams: trains the next block (forward, backward, the clipped update) and adds
  // to r; false when every stream is done, or when the block met NaN/Inf (r.stats.diverged,
  // that block's update not applied).
  bool train_next_block(Model& m, BlockEpochStats& r);
  void start_streams(const Model& m, const std::int32_t* ids, const std::int64_t* offsets, std::int64_t n);
  // Lays out the next block's positions; returns the active positions (0: every stream done).
  // drop_inputs: training's input word dropout (o.input_dropout) applies to this block.
  std::int64_t next_block(bool drop_inputs);
  // Forward through the block and the output layer, and the output layer's gradients (fused with
  // its forward: BlockOutput::word_pass); returns sum ln P over scored positions.
  double forward(const Model& m, bool dropout);
  // The scored positions' rows, in (t, b) order (serial).
  void lay_out_scored(bool dropout);
  // A model with an embedding layer: each position's embedding (dropped out) into xe_, then the
  // block's gate inputs x_ = xe_ @ input_w^T in one product (block_embedding.cc).
  void project_inputs(const Model& m);
  void gather_embeddings(const Model& m, int b0, int b1);
  // Backward of the projection: dxe_ = d_x @ input_w (through the embedding's dropout mask).
  void embedding_errors(const Model& m);
  // Rows [r.begin, r.end) of input_w's gradient (d_x^T @ xe_); its squared norm.
  double input_w_gradient(const PartRange& r);
  // The recurrence of streams [b0, b1) over all T steps, then their scored rows' h (dropped out)
  // into hd_. Disjoint stream ranges may run concurrently.
  void forward_streams(const Model& m, int b0, int b1);
  // Gradients of L = -(1/B) sum ln P into the g_* buffers; returns their squared norm
  // (all but the direct weights).
  double backward(const Model& m);
  // BPTT of streams [b0, b1) through the block. Disjoint stream ranges may run concurrently.
  void backward_streams(const Model& m, int b0, int b1);
  // [T][B][GH] errors of the gate inputs, d_x: the GRU's own buffer, the other cells' d_u.
  const float* input_errors() const { return gru_ ? dx_.data() : du_.data(); }
  // The embedding gradient's rows: one slot per distinct input word, the rows of each (serial).
  void assign_embed_slots();
  // Part p's share of the weight gradients over the block; returns its squared norm's share.
  double gradient_part(const Model& m, int p);
  void apply_update(Model& m, float scale);
  void update_part(Model& m, int p, float a, float keep);
  void gradient_into(const Model& m, Model& grad) const;
  // Part p's rows of recurrent (columns of hidden_bias), classes (class_w rows) and embedding slots.
  struct Ranges {
    PartRange gates, classes, slots;
  };
  Ranges part_ranges(int p) const;
  // Step t's rows of the forward buffers from stream b0 on (u: the current step's products).
  BlockStepRows step_rows(int t, int b0);

  BlockTrainOptions o_;
  UpdateMarks* marks_;
  bool streams_left_ = false;               // begin_epoch had sentences and the epoch goes on
  std::int64_t epoch_positions_ = 0;        // of begin_epoch's sentences
  int B_, T_, H_, GH_, C_, V_;
  int E_, EW_;                              // the embedding (0: none), the width of an embed row
  int parts_;                               // o_.threads: each phase cut into this many parts
  float reset_value_;
  bool lstm_, gru_;
  // The corpus and the streams.
  const std::int32_t* ids_ = nullptr;
  const std::int64_t* offsets_ = nullptr;
  std::vector<std::int64_t> begin_, end_, k_, sentence_;  // per stream
  std::vector<NgramHistory> ngram_;
  std::vector<Rng> rng_;
  std::vector<float> h_cur_, c_cur_;  // B x H carried state
  // Per position (t, b), row t * B + b.
  std::vector<std::int32_t> in_, target_;
  std::vector<std::uint8_t> active_, reset_;
  std::vector<int> scored_row_;             // row among the scored positions, or -1
  std::vector<std::int32_t> hist_words_;    // direct-connection context per position
  int hist_len_;
  // Forward values, [T][B][...].
  std::vector<float> hprev_, cprev_, h_, c_, gates_, un_, tc_;
  std::vector<float> u_, ut_;               // one step: rows b0.. of a stream range from b0 * GH on
  std::vector<float> xe_, emask_, x_;       // embedding layer: [T][B][E] (dropped out), its mask, [T][B][GH]
  // Output layer.
  int n_scored_ = 0;
  std::vector<int> scored_pos_;             // scored row -> position
  std::vector<std::int32_t> scored_target_;
  std::vector<const std::int32_t*> scored_hist_;
  std::vector<float> hd_, mask_, dhd_;      // n x H
  bool dropout_applied_ = false;            // the last forward drew masks
  std::vector<double> lp_;
  BlockOutput out_;
  // Backward.
  std::vector<float> e_, du_, dx_;          // [T][B][H], [T][B][GH], [T][B][GH] (GRU only)
  std::vector<float> carry_, dc_, dh_direct_;  // B x H (dc_: LSTM, dh_direct_: GRU)
  // Gradients.
  std::vector<float> g_recurrent_, g_hidden_bias_, g_class_w_, g_class_b_, g_word_w_, g_word_b_;
  std::vector<float> dxe_, g_input_w_;      // embedding layer: [T][B][E], GH x E
  std::vector<float> g_embed_;              // one EW_ row per distinct input word of the block
  std::vector<std::int32_t> embed_words_;   // those words, in order of first use
  std::vector<std::int32_t> embed_slot_;    // word -> row of g_embed_, or -1
  std::vector<int> row_slot_;               // position -> its slot, or -1
  std::vector<int> slot_start_, slot_rows_; // the positions of each slot, in order
  std::vector<int> slot_part_;              // slot where each part starts, then the slot count
  std::vector<double> norm_part_, word_norm_part_;  // per part: shares of the squared norm
};

}  // namespace rnnlm
