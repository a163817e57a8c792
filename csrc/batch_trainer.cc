#include "batch_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"
#include "kernels.h"

namespace rnnlm {

BatchedStreams::BatchedStreams(const Model& m, const TrainOptions& o, int streams, int first_id, int id_stride,
                               UpdateMarks* marks)
    : o_(o),
      marks_(marks),
      streams_(streams),
      H_(static_cast<std::size_t>(m.hidden())),
      gates_(m.gates()),
      max_steps_(o.bptt <= 1 ? 1 : std::max(1, o.bptt + o.bptt_block - 2)),
      capacity_(max_steps_ + 2),
      reset_value_(m.reset_value()),
      out_(m, streams) {
  if (streams < 1) throw ConfigError("streams must be at least 1");
  refuse_embedding(m);
  const std::size_t B = static_cast<std::size_t>(streams), H = H_, G = static_cast<std::size_t>(gates_);
  const std::size_t K = static_cast<std::size_t>(capacity_), S = static_cast<std::size_t>(max_steps_);
  n_.assign(B, 0);
  hist_h_.assign(K * B * H, 0.0f);
  hist_c_.assign(m.has_cell_state() ? K * B * H : 0, 0.0f);
  hist_gates_.assign(G > 1 ? K * B * G * H : 0, 0.0f);
  hist_un_.assign(m.cell() == Cell::kGru ? K * B * H : 0, 0.0f);
  hist_tc_.assign(m.has_cell_state() ? K * B * H : 0, 0.0f);
  hist_e_.assign(K * B * H, 0.0f);
  hist_in_.assign(K * B, -1);
  for (int b = 0; b < streams; ++b) {
    ngram_.emplace_back(m.direct_order());
    rng_.emplace_back(o.seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(first_id + b * id_stride));
  }
  u_.assign(B * G * H, 0.0f);
  if (o.dropout > 0) {
    drop_mask_.assign(B * H, 0.0f);
    drop_h_.assign(B * H, 0.0f);
  }
  h_rows_.resize(B);
  e_rows_.resize(B);
  targets_.resize(B);
  histories_.resize(B);
  scored_.resize(B);
  lp_.resize(B);
  d_u_.assign(S * B * G * H, 0.0f);
  d_x_.assign(S * B * G * H, 0.0f);
  x_.assign(S * B * H, 0.0f);
  e_.assign(B * H, 0.0f);
  e_prev_.assign(B * H, 0.0f);
  dh_direct_.assign(B * H, 0.0f);
  dc_.assign(B * H, 0.0f);
  dc_prev_.assign(B * H, 0.0f);
  row_of_.assign(S * B, -1);
  due_.assign(B, 0);
  part_.reserve(B);
  for (int b = 0; b < streams; ++b) std::fill(h_at(-1, b), h_at(-1, b) + H, reset_value_);
}

StepState BatchedStreams::state_at(std::int64_t t, int b) {
  const std::size_t i = slot(t) * static_cast<std::size_t>(streams_) + static_cast<std::size_t>(b);
  const std::size_t GH = static_cast<std::size_t>(gates_) * H_;
  return StepState{hist_h_.data() + i * H_, hist_c_.empty() ? nullptr : hist_c_.data() + i * H_,
                   hist_gates_.empty() ? nullptr : hist_gates_.data() + i * GH,
                   hist_un_.empty() ? nullptr : hist_un_.data() + i * H_,
                   hist_tc_.empty() ? nullptr : hist_tc_.data() + i * H_};
}

void BatchedStreams::reset(int b) {
  // The next step reads the state of slot t_ - 1: it becomes the reset state. What it held
  // is no longer needed (a lane's BPTT never reaches before its reset).
  n_[static_cast<std::size_t>(b)] = 0;
  for (std::int64_t t = -1; t < capacity_ - 1; ++t) std::fill(e_at(t, b), e_at(t, b) + H_, 0.0f);
  std::fill(h_at(t_ - 1, b), h_at(t_ - 1, b) + H_, reset_value_);
  if (!hist_c_.empty()) std::fill(c_at(t_ - 1, b), c_at(t_ - 1, b) + H_, 0.0f);
  ngram_[static_cast<std::size_t>(b)].reset();
}

void BatchedStreams::step(const Model& m, Model& dst, const std::int32_t* in, const std::int32_t* target,
                          const std::uint8_t* sentence_end, const std::uint8_t* active, double* lp) {
  const int B = streams_, H = static_cast<int>(H_), GH = gates_ * H;
  const std::int64_t t = t_;
  // The recurrent products of every lane at once (inactive lanes' results are unused).
  matmul_nt(m.recurrent.data(), GH, H, h_at(t - 1, 0), B, u_.data());
  int positions = 0, n_out = 0;
  for (int b = 0; b < B; ++b) {
    lp[b] = 0.0;
    if (!active[b]) continue;
    ++positions;
    Rng& rng = rng_[static_cast<std::size_t>(b)];
    // Word-level input dropout, as in BpttStream::step.
    const std::int32_t fed = o_.input_dropout > 0 && in[b] >= 0 && rng.uniform() < o_.input_dropout ? -1 : in[b];
    m.cell_update(fed, u_.data() + static_cast<std::size_t>(b) * GH, h_at(t - 1, b), c_at(t - 1, b), state_at(t, b));
    hist_in_[slot(t) * B + b] = fed;
    ngram_[static_cast<std::size_t>(b)].push(in[b]);
    std::fill(e_at(t, b), e_at(t, b) + H, 0.0f);
    ++n_[static_cast<std::size_t>(b)];
    if (target[b] < 0) continue;
    const float* h = h_at(t, b);
    if (o_.dropout > 0) {
      float* mask = drop_mask_.data() + static_cast<std::size_t>(b) * H;
      float* dh = drop_h_.data() + static_cast<std::size_t>(b) * H;
      const float scale = 1.0f / (1.0f - o_.dropout);
      for (int i = 0; i < H; ++i) {
        mask[i] = rng.uniform() < o_.dropout ? 0.0f : scale;
        dh[i] = h[i] * mask[i];
      }
      h = dh;
    }
    h_rows_[n_out] = h;
    targets_[n_out] = target[b];
    histories_[n_out] = ngram_[static_cast<std::size_t>(b)].data();
    e_rows_[n_out] = e_at(t, b);
    scored_[n_out++] = b;
  }
  // rnnlm-0.4b decays on every 10th word: as many decays as tenth words this step passed.
  const std::int64_t tenths = (words_ + positions) / 10 - words_ / 10;
  words_ += positions;
  const float keep = tenths == 0 ? 1.0f : static_cast<float>(std::pow(1.0 - double(o_.lr) * o_.l2, double(tenths)));
  if (n_out > 0) {
    batch_output_forward(m, n_out, h_rows_.data(), targets_.data(), histories_.data(), out_, lp_.data());
    batch_output_backward(m, dst, n_out, targets_.data(), out_, o_.lr, keep, 1.0f - o_.lr * o_.l2, e_rows_.data(),
                          marks_);
    for (int i = 0; i < n_out; ++i) {
      const int b = scored_[i];
      lp[b] = lp_[i];
      float* e = e_at(t, b);
      if (o_.dropout > 0) {
        const float* mask = drop_mask_.data() + static_cast<std::size_t>(b) * H;
        for (int k = 0; k < H; ++k) e[k] *= mask[k];
      }
      clip(e, H, o_.gradient_cutoff);
    }
  }
  ++t_;
  const bool block = o_.bptt <= 1 || t_ % o_.bptt_block == 0;
  bool any = false;
  for (int b = 0; b < B; ++b) {
    due_[b] = active[b] && (block || (o_.independent && sentence_end[b])) ? 1 : 0;
    any = any || due_[b];
  }
  if (any) backprop_through_time(m, dst, due_.data(), keep);
}

void BatchedStreams::backprop_through_time(const Model& m, Model& dst, const std::uint8_t* due, float keep) {
  const int B = streams_, H = static_cast<int>(H_), GH = gates_ * H;
  const std::int64_t t = t_ - 1;
  auto steps_of = [&](int b) { return static_cast<int>(std::min<std::int64_t>(max_steps_, n_[static_cast<std::size_t>(b)])); };
  int S = 0;
  for (int b = 0; b < B; ++b) {
    if (!due[b]) continue;
    S = std::max(S, steps_of(b));
    std::memcpy(e_.data() + static_cast<std::size_t>(b) * H, e_at(t, b), sizeof(float) * H);
    std::fill(dc_.begin() + static_cast<std::ptrdiff_t>(b) * H, dc_.begin() + static_cast<std::ptrdiff_t>(b + 1) * H, 0.0f);
  }
  int rows = 0;
  for (int s = 0; s < S; ++s) {
    const std::int64_t j = t - s;
    part_.clear();
    const int base = rows;
    for (int b = 0; b < B; ++b) {
      row_of_[static_cast<std::size_t>(s) * B + b] = -1;
      if (!due[b] || s >= steps_of(b)) continue;
      const int row = rows++;
      row_of_[static_cast<std::size_t>(s) * B + b] = row;
      part_.push_back(b);
      const std::size_t bh = static_cast<std::size_t>(b) * H;
      m.backward_step(e_.data() + bh, dc_.data() + bh, state_at(j, b), h_at(j - 1, b), c_at(j - 1, b),
                      d_u_.data() + static_cast<std::size_t>(row) * GH, d_x_.data() + static_cast<std::size_t>(row) * GH,
                      dh_direct_.data() + bh, dc_prev_.data() + bh);
      std::memcpy(x_.data() + static_cast<std::size_t>(row) * H, h_at(j - 1, b), sizeof(float) * H);
    }
    if (s + 1 < S) {
      // Errors to the previous step through the weights as they were before this update.
      const int n = static_cast<int>(part_.size());
      matmul_nn(d_u_.data() + static_cast<std::size_t>(base) * GH, n, GH, m.recurrent.data(), H, e_prev_.data(), false);
      for (int i = 0; i < n; ++i) {
        const int b = part_[static_cast<std::size_t>(i)];
        const std::size_t bh = static_cast<std::size_t>(b) * H;
        float* ep = e_prev_.data() + static_cast<std::size_t>(i) * H;
        for (int k = 0; k < H; ++k) ep[k] += dh_direct_[bh + k];
        clip(ep, H, o_.gradient_cutoff);
        const float* injected = e_at(j - 1, b);
        for (int k = 0; k < H; ++k) e_[bh + k] = ep[k] + injected[k];
        if (!hist_c_.empty()) {
          std::memcpy(dc_.data() + bh, dc_prev_.data() + bh, sizeof(float) * H);
          clip(dc_.data() + bh, H, o_.gradient_cutoff);
        }
      }
    }
  }
  rank_k_update(dst.recurrent.data(), GH, H, d_u_.data(), x_.data(), rows, o_.lr, keep);
  for (int r = 0; r < rows; ++r) scale_axpy(dst.hidden_bias.data(), GH, 1.0f, o_.lr, d_x_.data() + static_cast<std::size_t>(r) * GH);
  // Input embeddings, per lane as BpttStream does: one decay per distinct word.
  for (int b = 0; b < B; ++b) {
    if (!due[b]) continue;
    const int n_steps = steps_of(b);
    auto word_at = [&](int s) { return hist_in_[slot(t - s) * B + b]; };
    auto dx = [&](int s) { return d_x_.data() + static_cast<std::size_t>(row_of_[static_cast<std::size_t>(s) * B + b]) * GH; };
    for (int s = 0; s < n_steps; ++s) {
      const std::int32_t w = word_at(s);
      if (w < 0) continue;
      bool seen = false;
      for (int r = 0; r < s && !seen; ++r) seen = word_at(r) == w;
      if (seen) continue;
      float* row = dst.embed.data() + static_cast<std::size_t>(w) * GH;
      scale_axpy(row, GH, keep, o_.lr, dx(s));
      if (marks_ != nullptr) marks_->embed_row(w);
      for (int r = s + 1; r < n_steps; ++r) {
        if (word_at(r) == w) scale_axpy(row, GH, 1.0f, o_.lr, dx(r));
      }
    }
    for (std::int64_t k = -1; k < capacity_ - 1; ++k) std::fill(e_at(k, b), e_at(k, b) + H, 0.0f);
  }
}

Model batch_gradient(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                     std::int64_t n_sentences) {
  if (n_sentences < 1 || n_sentences > kMaxStreams) {
    throw ConfigError("batch_gradient takes 1.." + std::to_string(kMaxStreams) + " sentences");
  }
  const int n = static_cast<int>(n_sentences);
  std::int64_t longest = 0;
  for (int i = 0; i < n; ++i) {
    if (offsets[i + 1] <= offsets[i]) throw ConfigError("batch_gradient: empty sentence");
    longest = std::max(longest, offsets[i + 1] - offsets[i]);
  }
  const TrainOptions o = gradient_options(longest, "batch_gradient");
  Model grad = m.zeros_like();
  BatchedStreams lanes(m, o, n, 0, 1);
  std::vector<std::int32_t> in(static_cast<std::size_t>(n)), target(static_cast<std::size_t>(n));
  std::vector<std::uint8_t> end(static_cast<std::size_t>(n)), active(static_cast<std::size_t>(n));
  std::vector<double> lp(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < longest; ++k) {
    for (int i = 0; i < n; ++i) {
      const std::int64_t len = offsets[i + 1] - offsets[i];
      active[i] = k < len;
      in[i] = k == 0 || k >= len ? 0 : ids[offsets[i] + k - 1];
      target[i] = k < len ? ids[offsets[i] + k] : -1;
      end[i] = k + 1 == len;
    }
    lanes.step(m, grad, in.data(), target.data(), end.data(), active.data(), lp.data());
  }
  return grad;
}

}  // namespace rnnlm
