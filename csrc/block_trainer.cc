#include "block_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

#include "blas.h"
#include "block_cell.h"
#include "block_vector.h"
#include "corpus.h"
#include "engine_limits.h"
#include "errors.h"
#include "simd.h"

namespace rnnlm {
void BlockTrainOptions::validate() const {
  if (!(lr > 0) || !std::isfinite(lr)) throw ConfigError("lr must be a positive number");
  if (!(l2 >= 0) || !std::isfinite(l2)) throw ConfigError("l2 must be a number >= 0");
  if (!(clip_norm >= 0) || !std::isfinite(clip_norm)) throw ConfigError("clip_norm must be a number >= 0 (0: no clipping)");
  if (!(dropout >= 0 && dropout < 1)) throw ConfigError("dropout must be in [0, 1)");
  if (batch < 1 || batch > kMaxBatch) throw ConfigError("batch must be in 1.." + std::to_string(kMaxBatch));
  if (steps < 1 || steps > kMaxBptt) throw ConfigError("steps must be in 1.." + std::to_string(kMaxBptt));
  if (threads < 1 || threads > kMaxThreads) throw ConfigError("threads must be in 1.." + std::to_string(kMaxThreads));
  if (static_cast<std::int64_t>(batch) * steps > kMaxBlockPositions) {
    throw ConfigError("batch * steps must be at most " + std::to_string(kMaxBlockPositions) + " positions per block");
  }
}

BlockTrainer::BlockTrainer(const Model& m, const BlockTrainOptions& o)
    : o_((o.validate(), o)),
      B_(o.batch),
      T_(o.steps),
      H_(m.hidden()),
      GH_(m.gates() * m.hidden()),
      C_(m.n_classes()),
      V_(m.vocab_size()),
      reset_value_(m.reset_value()),
      lstm_(m.cell() == Cell::kLstm),
      gru_(m.cell() == Cell::kGru),
      hist_len_(m.direct_order() > 1 ? m.direct_order() - 1 : 1),
      out_(m, o.batch * o.steps) {
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
  g_embed_.assign(TB * GH, 0.0f);
  embed_words_.reserve(TB);
  embed_slot_.assign(static_cast<std::size_t>(V_), -1);
}

double BlockTrainer::forward(const Model& m, bool dropout) {
  const int B = B_, H = H_, GH = GH_;
  const std::size_t sH = static_cast<std::size_t>(H);
  for (int t = 0; t < T_; ++t) {
    const std::size_t row0 = static_cast<std::size_t>(t) * B;
    float* hp = hprev_.data() + row0 * sH;
    // The state entering step t: the carried state, or the reset state.
    for (int b = 0; b < B; ++b) {
      const std::size_t row = row0 + static_cast<std::size_t>(b), bh = static_cast<std::size_t>(b) * sH;
      if (reset_[row]) {
        std::fill(hp + bh, hp + bh + sH, reset_value_);
        if (lstm_) std::fill(cprev_.data() + row * sH, cprev_.data() + (row + 1) * sH, 0.0f);
      } else {
        std::memcpy(hp + bh, h_cur_.data() + bh, sizeof(float) * sH);
        if (lstm_) std::memcpy(cprev_.data() + row * sH, c_cur_.data() + bh, sizeof(float) * sH);
      }
    }
    // U^T[GH, B] = recurrent @ Hprev^T, one product for the B streams, then U[B, GH] for the
    // cell's rows: the library runs this orientation ~13% faster than U = Hprev @ recurrent^T
    // (2-core Zen 4, OpenBLAS 0.3.30, 32 x 200 x 200 and 32 x 1200 x 400), the transpose costs less.
    block_sgemm(false, true, GH, B, H, 1.0f, m.recurrent.data(), H, hp, H, 0.0f, ut_.data(), B);
    transpose(ut_.data(), GH, B, u_.data());
    block_cell_forward(m, B, in_.data() + row0, active_.data() + row0, step_rows(t), h_cur_.data(),
                       lstm_ ? c_cur_.data() : nullptr);
  }
  // The scored positions, in (t, b) order; dropout masks drawn per stream in position order.
  int n = 0;
  const std::size_t TB = static_cast<std::size_t>(T_) * B;
  for (std::size_t row = 0; row < TB; ++row) {
    scored_row_[row] = -1;
    if (!active_[row] || target_[row] < 0) continue;
    scored_row_[row] = n;
    scored_pos_[static_cast<std::size_t>(n)] = static_cast<int>(row);
    scored_target_[static_cast<std::size_t>(n)] = target_[row];
    scored_hist_[static_cast<std::size_t>(n)] = hist_words_.data() + row * static_cast<std::size_t>(hist_len_);
    std::memcpy(hd_.data() + static_cast<std::size_t>(n) * sH, h_.data() + row * sH, sizeof(float) * sH);
    ++n;
  }
  n_scored_ = n;
  dropout_applied_ = dropout && o_.dropout > 0;
  if (dropout_applied_) {
    const float keep_scale = 1.0f / (1.0f - o_.dropout);
    for (int b = 0; b < B; ++b) {
      Rng& rng = rng_[static_cast<std::size_t>(b)];
      for (int t = 0; t < T_; ++t) {
        const int r = scored_row_[static_cast<std::size_t>(t) * B + static_cast<std::size_t>(b)];
        if (r < 0) continue;
        float* mk = mask_.data() + static_cast<std::size_t>(r) * sH;
        float* hd = hd_.data() + static_cast<std::size_t>(r) * sH;
        for (int i = 0; i < H; ++i) {
          mk[i] = rng.uniform() < o_.dropout ? 0.0f : keep_scale;
          hd[i] *= mk[i];
        }
      }
    }
  }
  out_.forward(m, n, hd_.data(), scored_target_.data(), scored_hist_.data(), lp_.data(), 1.0f / static_cast<float>(B));
  double logprob = 0;
  for (int i = 0; i < n; ++i) logprob += lp_[static_cast<std::size_t>(i)];
  return logprob;
}

double BlockTrainer::backward(const Model& m) {
  const int B = B_, H = H_, GH = GH_, n = n_scored_;
  const std::size_t sH = static_cast<std::size_t>(H), sGH = static_cast<std::size_t>(GH);
  const std::size_t TB = static_cast<std::size_t>(T_) * B;
  const double word_norm2 = out_.backward(m, dhd_.data(), g_class_w_.data(), g_class_b_.data(), g_word_w_.data(),
                                          g_word_b_.data());
  // Output errors reaching h_t (through the dropout mask).
  std::fill(e_.begin(), e_.end(), 0.0f);
  const bool masked = dropout_applied_;
  for (int r = 0; r < n; ++r) {
    float* e = e_.data() + static_cast<std::size_t>(scored_pos_[static_cast<std::size_t>(r)]) * sH;
    const float* d = dhd_.data() + static_cast<std::size_t>(r) * sH;
    if (masked) {
      const float* mk = mask_.data() + static_cast<std::size_t>(r) * sH;
      for (int i = 0; i < H; ++i) e[i] = d[i] * mk[i];
    } else {
      std::memcpy(e, d, sizeof(float) * sH);
    }
  }
  // BPTT through the block, t = T-1 .. 0; the state entering the block is a constant.
  std::fill(carry_.begin(), carry_.end(), 0.0f);
  std::fill(dc_.begin(), dc_.end(), 0.0f);
  for (int t = T_ - 1; t >= 0; --t) {
    const std::size_t row0 = static_cast<std::size_t>(t) * B;
    float* du = du_.data() + row0 * sGH;
    float* dx = gru_ ? dx_.data() + row0 * sGH : nullptr;
    block_cell_backward(m, B, active_.data() + row0, e_.data() + row0 * sH, carry_.data(), step_rows(t), du, dx,
                        dh_direct_.data(), dc_.data());
    if (t == 0) break;
    // dh_prev = dU @ recurrent (+ the GRU's direct path), one product for the B streams;
    // cut where the stream was reset before step t.
    block_sgemm(false, false, B, H, GH, 1.0f, du_.data() + row0 * sGH, GH, m.recurrent.data(), H, 0.0f,
                carry_.data(), H);
    for (int b = 0; b < B; ++b) {
      const std::size_t row = row0 + static_cast<std::size_t>(b), bh = static_cast<std::size_t>(b) * sH;
      float* c = carry_.data() + bh;
      if (reset_[row] || !active_[row]) {
        std::fill(c, c + sH, 0.0f);
        if (lstm_) std::fill(dc_.data() + bh, dc_.data() + bh + sH, 0.0f);
        continue;
      }
      if (gru_) add_to(c, dh_direct_.data() + bh, sH);  // the other cells have no direct path
    }
  }
  // Weight gradients as single products over the block (K = T * B).
  const int K = static_cast<int>(TB);
  block_sgemm(true, false, GH, H, K, 1.0f, du_.data(), GH, hprev_.data(), H, 0.0f, g_recurrent_.data(), H);
  std::fill(g_hidden_bias_.begin(), g_hidden_bias_.end(), 0.0f);
  const float* d_x = gru_ ? dx_.data() : du_.data();
  for (std::size_t row = 0; row < TB; ++row) add_to(g_hidden_bias_.data(), d_x + row * sGH, sGH);
  // Embedding rows: the scatter-add of the d_x rows of each input word.
  for (std::int32_t w : embed_words_) embed_slot_[static_cast<std::size_t>(w)] = -1;
  embed_words_.clear();
  for (std::size_t row = 0; row < TB; ++row) {
    const std::int32_t w = in_[row];
    if (!active_[row] || w < 0) continue;
    std::int32_t& slot = embed_slot_[static_cast<std::size_t>(w)];
    const float* dx = d_x + row * sGH;
    if (slot < 0) {
      slot = static_cast<std::int32_t>(embed_words_.size());
      embed_words_.push_back(w);
      std::memcpy(g_embed_.data() + static_cast<std::size_t>(slot) * sGH, dx, sizeof(float) * sGH);
    } else {
      add_to(g_embed_.data() + static_cast<std::size_t>(slot) * sGH, dx, sGH);
    }
  }
  // The squared norm over every gradient except the direct weights'.
  double norm2 = dot_double(g_embed_.data(), g_embed_.data(), embed_words_.size() * sGH);
  norm2 += dot_double(g_recurrent_.data(), g_recurrent_.data(), g_recurrent_.size());
  norm2 += dot_double(g_hidden_bias_.data(), g_hidden_bias_.data(), g_hidden_bias_.size());
  norm2 += dot_double(g_class_w_.data(), g_class_w_.data(), g_class_w_.size());
  norm2 += dot_double(g_class_b_.data(), g_class_b_.data(), g_class_b_.size());
  const auto& class_begin = m.class_begin();
  for (std::int32_t c : out_.used_classes()) {
    const std::size_t b = static_cast<std::size_t>(class_begin[c]), e = static_cast<std::size_t>(class_begin[c + 1]);
    norm2 += dot_double(g_word_b_.data() + b, g_word_b_.data() + b, e - b);
  }
  return norm2 + word_norm2;
}

void BlockTrainer::apply_update(Model& m, float scale) {
  const std::size_t sGH = static_cast<std::size_t>(GH_);
  const float a = o_.lr * scale;
  const float keep = 1.0f - o_.lr * o_.l2;
  auto dense = [&](float* w, const float* g, std::size_t n, float k) { scale_add(w, g, n, k, -a); };
  dense(m.recurrent.data(), g_recurrent_.data(), g_recurrent_.size(), keep);
  dense(m.class_w.data(), g_class_w_.data(), g_class_w_.size(), keep);
  dense(m.hidden_bias.data(), g_hidden_bias_.data(), g_hidden_bias_.size(), 1.0f);
  dense(m.class_b.data(), g_class_b_.data(), g_class_b_.size(), 1.0f);
  const auto& class_begin = m.class_begin();
  for (std::int32_t c : out_.used_classes()) {
    const std::size_t b = static_cast<std::size_t>(class_begin[c]), e = static_cast<std::size_t>(class_begin[c + 1]);
    dense(m.word_b.data() + b, g_word_b_.data() + b, e - b, 1.0f);
  }
  out_.word_update(m, g_word_w_.data(), m.word_w.data(), -a, 1.0f);
  for (std::size_t s = 0; s < embed_words_.size(); ++s) {
    dense(m.embed.data() + static_cast<std::size_t>(embed_words_[s]) * sGH, g_embed_.data() + s * sGH, sGH, 1.0f);
  }
  out_.add_direct_gradient(m, m.direct.data(), -a);
}

void BlockTrainer::gradient_into(const Model& m, Model& grad) const {
  const std::size_t sGH = static_cast<std::size_t>(GH_);
  std::copy(g_recurrent_.begin(), g_recurrent_.end(), grad.recurrent.begin());
  std::copy(g_hidden_bias_.begin(), g_hidden_bias_.end(), grad.hidden_bias.begin());
  std::copy(g_class_w_.begin(), g_class_w_.end(), grad.class_w.begin());
  std::copy(g_class_b_.begin(), g_class_b_.end(), grad.class_b.begin());
  const auto& class_begin = m.class_begin();
  for (std::int32_t c : out_.used_classes()) {
    const std::size_t b = static_cast<std::size_t>(class_begin[c]), e = static_cast<std::size_t>(class_begin[c + 1]);
    std::copy(g_word_b_.begin() + static_cast<std::ptrdiff_t>(b), g_word_b_.begin() + static_cast<std::ptrdiff_t>(e),
              grad.word_b.begin() + b);
  }
  out_.word_update(m, g_word_w_.data(), grad.word_w.data(), 1.0f, 0.0f);
  for (std::size_t s = 0; s < embed_words_.size(); ++s) {
    std::copy(g_embed_.begin() + static_cast<std::ptrdiff_t>(s * sGH),
              g_embed_.begin() + static_cast<std::ptrdiff_t>((s + 1) * sGH),
              grad.embed.begin() + static_cast<std::size_t>(embed_words_[s]) * sGH);
  }
  out_.add_direct_gradient(m, grad.direct.data(), 1.0f);
}

double BlockTrainer::block_gradient(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                                    std::int64_t n_sentences, Model& grad) {
  if (n_sentences < 1) throw ConfigError("block_gradient needs at least one sentence");
  start_streams(m, ids, offsets, n_sentences);
  next_block();
  const double logprob = forward(m, false);
  backward(m);
  gradient_into(m, grad);
  return -logprob / B_;
}

bool BlockTrainer::train_next_block(Model& m, BlockEpochStats& r) {
  EpochStats& st = r.stats;
  const std::int64_t positions = next_block();
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
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const double gemm0 = block_sgemm_seconds();
  // threads > 1: one batch, the products on the library's own threads (blas::set_threads), the
  // elementwise and output work on the calling thread. Measured 2026-12-07, 2-core AMD EPYC Zen 4
  // (AVX-512), PTB 1500 sentences, B=32, T=20, 2 threads: sigmoid H=200 0.21 s/epoch, GRU H=400
  // 1.08 s (1.5x one thread); OpenMP splitting the elementwise/output work over the B rows with one
  // BLAS thread 0.27 s / 1.60 s; both at once 53 s / 61 s (OpenMP's spinning threads and the
  // library's pool fight over the cores). Hogwild workers (each its own B streams and one library
  // thread, no locks) ran 1.5-1.8x faster than this at two threads but learned worse: GRU H=400 on
  // PTB diverged at lr 1 and at lr 0.5 stopped at valid 148.6 (docs/performance.md).
  blas::ScopedThreads blas_threads(o_.threads);
  BlockEpochStats r;
  if (n_sentences < 1) return r;
  start_streams(m, ids, offsets, n_sentences);
  auto last_report = Clock::now();
  while (train_next_block(m, r)) {
    if (progress && Clock::now() - last_report > std::chrono::milliseconds(200)) {
      last_report = Clock::now();
      if (!progress(r.stats.processed, r.stats.logprob)) {
        r.stats.interrupted = true;
        break;
      }
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.gemm_seconds = block_sgemm_seconds() - gemm0;
  return r;
}

}  // namespace rnnlm
