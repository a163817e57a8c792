// The block trainer's embedding layer (a model with embedding E > 0): words enter through a shared
// V x E table and a G*H x E projection, as Zaremba et al.'s PTB models do, instead of one G*H row
// per word. The projection of the whole block is one product with T*B rows, its gradient one
// product with K = T*B; dropout on the embedding (o.dropout, the rate of the output side) is what
// lets a large model train long without overfitting its input side.
#include <algorithm>
#include <cstring>

#include "block_sgemm.h"
#include "block_trainer.h"
#include "block_vector.h"

namespace rnnlm {

void BlockTrainer::gather_embeddings(const Model& m, int b0, int b1) {
  const std::size_t sE = static_cast<std::size_t>(E_);
  const float keep_scale = 1.0f / (1.0f - o_.dropout);
  for (int b = b0; b < b1; ++b) {
    Rng& rng = rng_[static_cast<std::size_t>(b)];  // drawn before the output side's masks
    for (int t = 0; t < T_; ++t) {
      const std::size_t row = static_cast<std::size_t>(t) * B_ + static_cast<std::size_t>(b);
      float* xe = xe_.data() + row * sE;
      const std::int32_t w = in_[row];
      if (!active_[row] || w < 0) {  // no input word (or a dropped one): no input at all
        std::fill(xe, xe + sE, 0.0f);
        continue;
      }
      std::memcpy(xe, m.embed.data() + static_cast<std::size_t>(w) * sE, sizeof(float) * sE);
      if (!dropout_applied_) continue;
      float* mk = emask_.data() + row * sE;
      for (std::size_t i = 0; i < sE; ++i) {
        mk[i] = rng.uniform() < o_.dropout ? 0.0f : keep_scale;
        xe[i] *= mk[i];
      }
    }
  }
}

void BlockTrainer::project_inputs(const Model& m) {
  run_parts(parts_, [&](int p) {
    const PartRange s = split_range(B_, parts_, p);
    gather_embeddings(m, s.begin, s.end);
  });
  // x[TB, GH] = xe[TB, E] @ input_w^T, cut by rows.
  run_parts(parts_, [&](int p) {
    const PartRange r = split_range(T_ * B_, parts_, p);
    if (r.size() == 0) return;
    const std::size_t r0 = static_cast<std::size_t>(r.begin);
    block_sgemm(false, true, r.size(), GH_, E_, 1.0f, xe_.data() + r0 * E_, E_, m.input_w.data(), E_, 0.0f,
                x_.data() + r0 * GH_, GH_);
  });
}

void BlockTrainer::embedding_errors(const Model& m) {
  const float* d_x = input_errors();
  run_parts(parts_, [&](int p) {
    const PartRange r = split_range(T_ * B_, parts_, p);
    if (r.size() == 0) return;
    const std::size_t r0 = static_cast<std::size_t>(r.begin), sE = static_cast<std::size_t>(E_);
    float* dxe = dxe_.data() + r0 * sE;
    block_sgemm(false, false, r.size(), E_, GH_, 1.0f, d_x + r0 * GH_, GH_, m.input_w.data(), E_, 0.0f, dxe, E_);
    if (!dropout_applied_) return;
    const float* mk = emask_.data() + r0 * sE;
    const std::size_t n = static_cast<std::size_t>(r.size()) * sE;
    for (std::size_t i = 0; i < n; ++i) dxe[i] *= mk[i];
  });
}

double BlockTrainer::input_w_gradient(const PartRange& g) {
  if (g.size() == 0) return 0;
  const float* d_x = input_errors();
  const std::size_t sE = static_cast<std::size_t>(E_);
  float* gw = g_input_w_.data() + static_cast<std::size_t>(g.begin) * sE;
  // Positions without an input have zero xe rows: they add nothing.
  block_sgemm(true, false, g.size(), E_, T_ * B_, 1.0f, d_x + g.begin, GH_, xe_.data(), E_, 0.0f, gw, E_);
  return dot_double(gw, gw, static_cast<std::size_t>(g.size()) * sE);
}

}  // namespace rnnlm
