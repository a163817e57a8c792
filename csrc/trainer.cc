#include "trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "epoch_run.h"
#include "errors.h"
#include "kernels.h"

namespace rnnlm {

void TrainOptions::validate() const {
  if (!(lr > 0) || !std::isfinite(lr)) throw ConfigError("lr must be a positive number");
  if (!(l2 >= 0) || !std::isfinite(l2)) throw ConfigError("beta (L2) must be >= 0");
  if (!(gradient_cutoff > 0)) throw ConfigError("gradient_cutoff must be positive");
  auto check_range = [](int value, int high, const char* name) {
    if (value < 1 || value > high) {
      throw ConfigError(std::string(name) + " must be in 1.." + std::to_string(high));
    }
  };
  check_range(bptt, kMaxBptt, "bptt");
  check_range(bptt_block, kMaxBpttBlock, "bptt_block");
  check_range(threads, kMaxThreads, "threads");
  check_range(streams, kMaxStreams, "streams");
  if (!(dropout >= 0 && dropout < 1)) throw ConfigError("dropout must be in [0, 1)");
  if (!(input_dropout >= 0 && input_dropout < 1)) throw ConfigError("input_dropout must be in [0, 1)");
}

void refuse_embedding(const Model& m) {
  if (m.embedding() > 0) {
    throw ConfigError(
        "a model with an embedding layer trains block-synchronously only (batch > 1); online SGD (batch 1, "
        "dynamic evaluation) refuses it");
  }
}

BpttStream::BpttStream(const Model& m, const TrainOptions& o, int stream_id, UpdateMarks* marks)
    : o_(o),
      hidden_(m.hidden()),
      gates_(m.gates()),
      max_steps_(o.bptt <= 1 ? 1 : std::max(1, o.bptt + o.bptt_block - 2)),
      capacity_(max_steps_ + 2),
      out_(m),
      ngram_(m.direct_order()),
      reset_value_(m.reset_value()),
      rng_(o.seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(stream_id)),
      marks_(marks) {
  refuse_embedding(m);
  const std::size_t H = static_cast<std::size_t>(hidden_), G = static_cast<std::size_t>(gates_);
  const std::size_t K = static_cast<std::size_t>(capacity_), S = static_cast<std::size_t>(max_steps_);
  hist_h_.assign(K * H, 0.0f);
  hist_c_.assign(m.has_cell_state() ? K * H : 0, 0.0f);
  hist_gates_.assign(G > 1 ? K * G * H : 0, 0.0f);
  hist_un_.assign(m.cell() == Cell::kGru ? K * H : 0, 0.0f);
  hist_tc_.assign(m.has_cell_state() ? K * H : 0, 0.0f);
  hist_e_.assign(K * H, 0.0f);
  hist_in_.assign(K, -1);
  d_u_.assign(S * G * H, 0.0f);
  d_x_.assign(S * G * H, 0.0f);
  x_.assign(S * H, 0.0f);
  e_.assign(H, 0.0f);
  e_prev_.assign(H, 0.0f);
  dh_direct_.assign(H, 0.0f);
  dc_.assign(H, 0.0f);
  dc_prev_.assign(H, 0.0f);
  if (o.dropout > 0) {
    drop_mask_.assign(H, 0.0f);
    drop_h_.assign(H, 0.0f);
  }
  reset();
}

StepState BpttStream::state_at(std::int64_t t) {
  const std::size_t k = slot(t), H = static_cast<std::size_t>(hidden_);
  return StepState{hist_h_.data() + k * H, hist_c_.empty() ? nullptr : hist_c_.data() + k * H,
                   hist_gates_.empty() ? nullptr : hist_gates_.data() + k * gates_ * H,
                   hist_un_.empty() ? nullptr : hist_un_.data() + k * H,
                   hist_tc_.empty() ? nullptr : hist_tc_.data() + k * H};
}

void BpttStream::reset() {
  n_ = 0;
  std::fill(hist_e_.begin(), hist_e_.end(), 0.0f);
  std::fill(h_at(-1), h_at(-1) + hidden_, reset_value_);
  if (!hist_c_.empty()) std::fill(c_at(-1), c_at(-1) + hidden_, 0.0f);
  ngram_.reset();
}

double BpttStream::step(const Model& m, Model& dst, std::int32_t in, std::int32_t target,
                        bool sentence_end) {
  ++counter_;
  const std::int64_t t = n_;
  StepState st = state_at(t);
  // Word-level input dropout: the step sees no input word (its embedding row is neither
  // read nor updated); the direct connections still see the true history.
  const std::int32_t fed = o_.input_dropout > 0 && in >= 0 && rng_.uniform() < o_.input_dropout ? -1 : in;
  m.forward_step(fed, h_at(t - 1), hist_c_.empty() ? nullptr : c_at(t - 1), st, step_scratch_);
  hist_in_[slot(t)] = fed;
  ngram_.push(in);
  float* e = e_at(t);
  std::fill(e, e + hidden_, 0.0f);
  // rnnlm-0.4b applies the L2 decay on every 10th word only (and on direct weights always).
  const float keep = counter_ % 10 == 0 ? 1.0f - o_.lr * o_.l2 : 1.0f;
  double lp = 0;
  if (target >= 0) {
    const float* h_out = o_.dropout > 0 ? dropped_out(st.h) : st.h;
    lp = output_forward(m, h_out, target, ngram_.data(), out_);
    output_backward_update(m, dst, h_out, target, out_, o_.lr, keep, 1.0f - o_.lr * o_.l2, e, marks_);
    if (o_.dropout > 0) {
      for (int i = 0; i < hidden_; ++i) e[i] *= drop_mask_[i];
    }
    clip(e, hidden_, o_.gradient_cutoff);
  }
  ++n_;
  if (o_.bptt <= 1 || counter_ % o_.bptt_block == 0 || (o_.independent && sentence_end)) {
    backprop_through_time(m, dst, static_cast<int>(std::min<std::int64_t>(max_steps_, n_)), keep);
  }
  return lp;
}

const float* BpttStream::dropped_out(const float* h) {
  const float scale = 1.0f / (1.0f - o_.dropout);
  for (int i = 0; i < hidden_; ++i) {
    drop_mask_[i] = rng_.uniform() < o_.dropout ? 0.0f : scale;
    drop_h_[i] = h[i] * drop_mask_[i];
  }
  return drop_h_.data();
}

void BpttStream::backprop_through_time(const Model& m, Model& dst, int n_steps, float keep) {
  const int H = hidden_;
  const int GH = gates_ * hidden_;
  const std::int64_t t = n_ - 1;
  std::memcpy(e_.data(), e_at(t), sizeof(float) * H);
  std::fill(dc_.begin(), dc_.end(), 0.0f);
  for (int s = 0; s < n_steps; ++s) {
    const std::int64_t j = t - s;
    float* d_u = d_u_.data() + static_cast<std::size_t>(s) * GH;
    float* d_x = d_x_.data() + static_cast<std::size_t>(s) * GH;
    const StepState st = state_at(j);
    const float* c_prev = hist_c_.empty() ? nullptr : c_at(j - 1);
    m.backward_step(e_.data(), dc_.data(), st, h_at(j - 1), c_prev, d_u, d_x, dh_direct_.data(), dc_prev_.data());
    std::memcpy(x_.data() + static_cast<std::size_t>(s) * H, h_at(j - 1), sizeof(float) * H);
    if (s + 1 < n_steps) {
      // Errors flow to the previous step through the weights as they were before this update.
      matvec_transposed(m.recurrent.data(), GH, H, d_u, e_prev_.data());
      const float* injected = e_at(j - 1);
      for (int i = 0; i < H; ++i) e_prev_[i] += dh_direct_[i];
      clip(e_prev_.data(), H, o_.gradient_cutoff);
      for (int i = 0; i < H; ++i) e_[i] = e_prev_[i] + injected[i];
      if (!hist_c_.empty()) {
        std::memcpy(dc_.data(), dc_prev_.data(), sizeof(float) * H);
        clip(dc_.data(), H, o_.gradient_cutoff);
      }
    }
  }
  rank_k_update(dst.recurrent.data(), GH, H, d_u_.data(), x_.data(), n_steps, o_.lr, keep);
  for (int s = 0; s < n_steps; ++s) {
    scale_axpy(dst.hidden_bias.data(), GH, 1.0f, o_.lr, d_x_.data() + static_cast<std::size_t>(s) * GH);
  }
  // Input embeddings: one decay per distinct word, then all of its steps' gradients.
  for (int s = 0; s < n_steps; ++s) {
    const std::int32_t w = hist_in_[slot(t - s)];
    if (w < 0) continue;
    bool seen = false;
    for (int r = 0; r < s && !seen; ++r) seen = hist_in_[slot(t - r)] == w;
    if (seen) continue;
    if (marks_ != nullptr) marks_->embed_row(w);
    float* row = dst.embed.data() + static_cast<std::size_t>(w) * GH;
    scale_axpy(row, GH, keep, o_.lr, d_x_.data() + static_cast<std::size_t>(s) * GH);
    for (int r = s + 1; r < n_steps; ++r) {
      if (hist_in_[slot(t - r)] == w) scale_axpy(row, GH, 1.0f, o_.lr, d_x_.data() + static_cast<std::size_t>(r) * GH);
    }
  }
  std::fill(hist_e_.begin(), hist_e_.end(), 0.0f);
}

TrainOptions gradient_options(std::int64_t longest, const char* who) {
  if (longest > kMaxGradientWords) {
    throw ConfigError(std::string(who) + " is meant for short sentences (<= " +
                      std::to_string(kMaxGradientWords) + " words)");
  }
  TrainOptions o;
  o.lr = 1.0f;
  o.l2 = 0.0f;
  o.gradient_cutoff = 1e30f;
  o.bptt = static_cast<int>(longest + 2);
  o.bptt_block = kMaxBpttBlock;
  o.independent = true;
  o.threads = 1;
  o.streams = 1;
  return o;
}

Model sentence_gradient(const Model& m, const std::int32_t* ids, std::int64_t n) {
  if (n < 1) throw ConfigError("sentence_gradient needs at least one word");
  Model grad = m.zeros_like();
  BpttStream stream(m, gradient_options(n, "sentence_gradient"));
  for (std::int64_t k = 0; k < n; ++k) {
    stream.step(m, grad, k == 0 ? 0 : ids[k - 1], ids[k], k + 1 == n);
  }
  return grad;
}

EpochStats train_epoch(Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                       std::int64_t n_sentences, const TrainOptions& o,
                       const TrainProgress& progress, double* position_logprob) {
  EpochRun run(m, ids, offsets, n_sentences, o, position_logprob);
  return run.run(1, 1, progress);
}

}  // namespace rnnlm
