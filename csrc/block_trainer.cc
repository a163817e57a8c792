#include "block_trainer.h"

#include <chrono>
#include <limits>
#include <cmath>
#include <string>

#include "blas.h"
#include "engine_limits.h"
#include "errors.h"

namespace rnnlm {
void BlockTrainOptions::validate() const {
  if (!(lr > 0) || !std::isfinite(lr)) throw ConfigError("lr must be a positive number");
  if (!(l2 >= 0) || !std::isfinite(l2)) throw ConfigError("l2 must be a number >= 0");
  if (!(clip_norm >= 0) || !std::isfinite(clip_norm)) throw ConfigError("clip_norm must be a number >= 0 (0: no clipping)");
  if (!(dropout >= 0 && dropout < 1)) throw ConfigError("dropout must be in [0, 1)");
  if (!(input_dropout >= 0 && input_dropout < 1)) throw ConfigError("input_dropout must be in [0, 1)");
  if (batch < 1 || batch > kMaxBatch) throw ConfigError("batch must be in 1.." + std::to_string(kMaxBatch));
  if (steps < 1 || steps > kMaxBptt) throw ConfigError("steps must be in 1.." + std::to_string(kMaxBptt));
  if (threads < 1 || threads > kMaxThreads) throw ConfigError("threads must be in 1.." + std::to_string(kMaxThreads));
  if (static_cast<std::int64_t>(batch) * steps > kMaxBlockPositions) {
    throw ConfigError("batch * steps must be at most " + std::to_string(kMaxBlockPositions) + " positions per block");
  }
}

BlockTrainer::BlockTrainer(const Model& m, const BlockTrainOptions& o, UpdateMarks* marks)
    : o_((o.validate(), o)),
      marks_(marks),
      B_(o.batch),
      T_(o.steps),
      H_(m.hidden()),
      GH_(m.gates() * m.hidden()),
      C_(m.n_classes()),
      V_(m.vocab_size()),
      E_(m.embedding()),
      EW_(m.embed_width()),
      parts_(o.threads),
      reset_value_(m.reset_value()),
      lstm_(m.cell() == Cell::kLstm),
      gru_(m.cell() == Cell::kGru),
      hist_len_(m.direct_order() > 1 ? m.direct_order() - 1 : 1),
      out_(m, o.batch * o.steps, o.threads) {
  const std::size_t B = static_cast<std::size_t>(B_), TB = B * static_cast<std::size_t>(T_);
  const std::size_t H = static_cast<std::size_t>(H_), GH = static_cast<std::size_t>(GH_);
  begin_.resize(B);
  end_.resize(B);
  k_.resize(B);
  sentence_.resize(B);
  h_cur_.assign(B * H, reset_value_);
  c_cur_.assign(lstm_ ? B * H : 0, 0.0f);
  in_.assign(TB, 0);
  target_.assign(TB, -1);
  active_.assign(TB, 0);
  reset_.assign(TB, 0);
  scored_row_.assign(TB, -1);
  hist_words_.assign(TB * static_cast<std::size_t>(hist_len_), 0);
  hprev_.assign(TB * H, 0.0f);
  h_.assign(TB * H, 0.0f);
  cprev_.assign(lstm_ ? TB * H : 0, 0.0f);
  c_.assign(lstm_ ? TB * H : 0, 0.0f);
  tc_.assign(lstm_ ? TB * H : 0, 0.0f);
  gates_.assign(GH > H ? TB * GH : 0, 0.0f);
  un_.assign(gru_ ? TB * H : 0, 0.0f);
  u_.assign(B * GH, 0.0f);
  ut_.assign(B * GH, 0.0f);
  scored_pos_.assign(TB, 0);
  scored_target_.assign(TB, 0);
  scored_hist_.assign(TB, nullptr);
  hd_.assign(TB * H, 0.0f);
  mask_.assign(o.dropout > 0 ? TB * H : 0, 0.0f);
  dhd_.assign(TB * H, 0.0f);
  lp_.assign(TB, 0.0);
  e_.assign(TB * H, 0.0f);
  du_.assign(TB * GH, 0.0f);
  dx_.assign(gru_ ? TB * GH : 0, 0.0f);  // the other cells' d_x is d_u
  carry_.assign(B * H, 0.0f);
  dc_.assign(B * H, 0.0f);
  dh_direct_.assign(gru_ ? B * H : 0, 0.0f);
  g_recurrent_.assign(GH * H, 0.0f);
  g_hidden_bias_.assign(GH, 0.0f);
  g_class_w_.assign(static_cast<std::size_t>(C_) * H, 0.0f);
  g_class_b_.assign(static_cast<std::size_t>(C_), 0.0f);
  g_word_w_.assign(static_cast<std::size_t>(V_) * H, 0.0f);
  g_word_b_.assign(static_cast<std::size_t>(V_), 0.0f);
  const std::size_t E = static_cast<std::size_t>(E_);
  xe_.assign(TB * E, 0.0f);
  emask_.assign(o.dropout > 0 ? TB * E : 0, 0.0f);
  x_.assign(E > 0 ? TB * GH : 0, 0.0f);
  dxe_.assign(TB * E, 0.0f);
  g_input_w_.assign(GH * E, 0.0f);
  g_embed_.assign(TB * static_cast<std::size_t>(EW_), 0.0f);
  embed_words_.reserve(TB);
  embed_slot_.assign(static_cast<std::size_t>(V_), -1);
  row_slot_.assign(TB, -1);
  slot_start_.reserve(TB + 1);
  slot_rows_.reserve(TB);
  slot_part_.assign(static_cast<std::size_t>(parts_) + 1, 0);
  norm_part_.assign(static_cast<std::size_t>(parts_), 0.0);
  word_norm_part_.assign(static_cast<std::size_t>(parts_), 0.0);
}

double BlockTrainer::block_gradient(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                                    std::int64_t n_sentences, Model& grad) {
  if (n_sentences < 1) throw ConfigError("block_gradient needs at least one sentence");
  start_streams(m, ids, offsets, n_sentences);
  next_block(false);
  const double logprob = forward(m, false);
  backward(m);
  gradient_into(m, grad);
  return -logprob / B_;
}

bool BlockTrainer::train_next_block(Model& m, BlockEpochStats& r) {
  EpochStats& st = r.stats;
  const std::int64_t positions = next_block(true);
  if (positions == 0) return false;
  const double logprob = forward(m, true);
  const double norm = std::isfinite(logprob) ? std::sqrt(backward(m)) : logprob;
  if (!std::isfinite(norm)) {
    st.diverged = true;
    st.diverged_at = st.processed;
    return false;
  }
  const float scale = o_.clip_norm > 0 && norm > o_.clip_norm ? static_cast<float>(o_.clip_norm / norm) : 1.0f;
  apply_update(m, scale);
  ++r.blocks;
  st.logprob += logprob;
  st.words += n_scored_;
  st.processed += positions;
  return true;
}

BlockEpochStats BlockTrainer::train_epoch(Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                                          std::int64_t n_sentences, const TrainProgress& progress) {
  begin_epoch(m, ids, offsets, n_sentences);
  BlockEpochStats r;
  train_until(m, std::numeric_limits<std::int64_t>::max(), r, progress);
  return r;
}

void BlockTrainer::begin_epoch(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                               std::int64_t n_sentences) {
  streams_left_ = n_sentences >= 1;
  epoch_positions_ = streams_left_ ? offsets[n_sentences] - offsets[0] : 0;
  if (streams_left_) start_streams(m, ids, offsets, n_sentences);
}

void BlockTrainer::train_until(Model& m, std::int64_t until, BlockEpochStats& r, const TrainProgress& progress) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const double gemm0 = block_sgemm_seconds();
  // threads > 1: one batch, each phase of a block split over OpenMP threads (parallel_parts.h),
  // every product single-threaded inside them: the recurrence and BPTT by streams (no barrier per
  // step), the output layer by rows and by class sets, the gradients and the update by ranges.
  // Measured 2026-12-07, 2-core AMD EPYC Zen 4, idle, PTB 100 classes, B=32, T=20, words/s at 2
  // threads, this design / the library's threads inside each product with the rest on the calling
  // thread: sigmoid H=200 189k / 174k, GRU H=400 31.0k / 28.0k, LSTM H=400 24.6k / 24.2k, LSTM
  // H=650 11.2k / 9.0k; with another job on one core, sigmoid 151k / 12k (the library's products
  // wait for both of its threads). OpenMP threads next to the library's pool: 50x slower (spinning
  // threads fight over the cores: never both). Hogwild workers (each its own B streams, no locks)
  // ran faster still but learned worse: GRU H=400 on PTB blew up at lr 1 and at lr 0.5 stopped at
  // valid 148.6 (docs/performance.md).
  blas::ScopedThreads blas_threads(1);
  auto last_report = Clock::now();
  while (streams_left_ && r.stats.processed < until) {
    if (!train_next_block(m, r)) {
      streams_left_ = false;
      break;
    }
    if (progress && Clock::now() - last_report > std::chrono::milliseconds(200)) {
      last_report = Clock::now();
      if (!progress(r.stats.processed, r.stats.logprob)) {
        r.stats.interrupted = true;
        streams_left_ = false;
        break;
      }
    }
  }
  if (r.stats.processed >= epoch_positions_) streams_left_ = false;
  r.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  r.gemm_seconds += block_sgemm_seconds() - gemm0;
}

}  // namespace rnnlm
