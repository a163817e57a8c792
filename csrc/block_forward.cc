// The block trainer's forward pass: the recurrence of each stream range through all T steps (the
// streams are independent, so a thread runs its range's steps without waiting for the others),
// then the output layer by rows (class layer) and by sets of classes (word layer and the output
// layer's gradients).
#include <algorithm>
#include <cstring>

#include "block_cell.h"
#include "block_trainer.h"
#include "block_vector.h"

namespace rnnlm {

void BlockTrainer::lay_out_scored(bool dropout) {
  int n = 0;
  const std::size_t TB = static_cast<std::size_t>(T_) * B_;
  for (std::size_t row = 0; row < TB; ++row) {
    scored_row_[row] = -1;
    if (!active_[row] || target_[row] < 0) continue;
    scored_row_[row] = n;
    scored_pos_[static_cast<std::size_t>(n)] = static_cast<int>(row);
    scored_target_[static_cast<std::size_t>(n)] = target_[row];
    scored_hist_[static_cast<std::size_t>(n)] = hist_words_.data() + row * static_cast<std::size_t>(hist_len_);
    ++n;
  }
  n_scored_ = n;
  dropout_applied_ = dropout && o_.dropout > 0;
}

void BlockTrainer::forward_streams(const Model& m, int b0, int b1) {
  if (b0 >= b1) return;
  const int B = B_, H = H_, GH = GH_, nb = b1 - b0;
  const std::size_t sH = static_cast<std::size_t>(H);
  float* ut = ut_.data() + static_cast<std::size_t>(b0) * GH;
  float* u = u_.data() + static_cast<std::size_t>(b0) * GH;
  for (int t = 0; t < T_; ++t) {
    const std::size_t row0 = static_cast<std::size_t>(t) * B;
    float* hp = hprev_.data() + row0 * sH;
    // The state entering step t: the carried state, or the reset state.
    for (int b = b0; b < b1; ++b) {
      const std::size_t row = row0 + static_cast<std::size_t>(b), bh = static_cast<std::size_t>(b) * sH;
      if (reset_[row]) {
        std::fill(hp + bh, hp + bh + sH, reset_value_);
        if (lstm_) std::fill(cprev_.data() + row * sH, cprev_.data() + (row + 1) * sH, 0.0f);
      } else {
        std::memcpy(hp + bh, h_cur_.data() + bh, sizeof(float) * sH);
        if (lstm_) std::memcpy(cprev_.data() + row * sH, c_cur_.data() + bh, sizeof(float) * sH);
      }
    }
    // U^T[GH, nb] = recurrent @ Hprev^T, one product for the range's streams, then U[nb, GH] for
    // the cell's rows: the library runs this orientation ~13% faster than U = Hprev @ recurrent^T
    // (2-core Zen 4, OpenBLAS 0.3.30, 32 x 200 x 200 and 32 x 1200 x 400), the transpose costs less.
    block_sgemm(false, true, GH, nb, H, 1.0f, m.recurrent.data(), H, hp + static_cast<std::size_t>(b0) * sH, H, 0.0f,
                ut, nb);
    transpose(ut, GH, nb, u);
    const float* x_rows = E_ > 0 ? x_.data() + (row0 + static_cast<std::size_t>(b0)) * GH : nullptr;
    block_cell_forward(m, nb, in_.data() + row0 + b0, x_rows, active_.data() + row0 + b0, step_rows(t, b0),
                       h_cur_.data() + static_cast<std::size_t>(b0) * sH,
                       lstm_ ? c_cur_.data() + static_cast<std::size_t>(b0) * sH : nullptr);
  }
  // The scored rows' h for the output layer; dropout masks drawn per stream in position order.
  const float keep_scale = 1.0f / (1.0f - o_.dropout);
  for (int b = b0; b < b1; ++b) {
    Rng& rng = rng_[static_cast<std::size_t>(b)];
    for (int t = 0; t < T_; ++t) {
      const std::size_t row = static_cast<std::size_t>(t) * B + static_cast<std::size_t>(b);
      const int r = scored_row_[row];
      if (r < 0) continue;
      float* hd = hd_.data() + static_cast<std::size_t>(r) * sH;
      std::memcpy(hd, h_.data() + row * sH, sizeof(float) * sH);
      if (!dropout_applied_) continue;
      float* mk = mask_.data() + static_cast<std::size_t>(r) * sH;
      for (int i = 0; i < H; ++i) {
        mk[i] = rng.uniform() < o_.dropout ? 0.0f : keep_scale;
        hd[i] *= mk[i];
      }
    }
  }
}

double BlockTrainer::forward(const Model& m, bool dropout) {
  lay_out_scored(dropout);
  if (E_ > 0) project_inputs(m);
  run_parts(parts_, [&](int p) {
    const PartRange s = split_range(B_, parts_, p);
    forward_streams(m, s.begin, s.end);
  });
  const int n = n_scored_;
  out_.prepare(m, n, hd_.data(), scored_target_.data(), scored_hist_.data(), 1.0f / static_cast<float>(B_));
  run_parts(parts_, [&](int p) {
    const PartRange r = split_range(n, parts_, p);
    out_.class_forward(m, r.begin, r.end, lp_.data());
  });
  run_parts(parts_, [&](int p) {
    word_norm_part_[static_cast<std::size_t>(p)] =
        out_.word_pass(m, p, lp_.data(), dhd_.data(), g_word_w_.data(), g_word_b_.data());
  });
  double logprob = 0;
  for (int i = 0; i < n; ++i) logprob += lp_[static_cast<std::size_t>(i)];
  return logprob;
}

}  // namespace rnnlm
