// The block trainer's backward pass and update: BPTT of each stream range through the block (no
// waiting between steps: the streams are independent), then the weight gradients over the whole
// block and the update, each array cut into ranges so that no two parts write the same floats.
#include <algorithm>
#include <cstring>

#include "block_cell.h"
#include "block_trainer.h"
#include "block_vector.h"

namespace rnnlm {

BlockTrainer::Ranges BlockTrainer::part_ranges(int p) const {
  const std::size_t i = static_cast<std::size_t>(p);
  return {split_range(GH_, parts_, p), split_range(C_, parts_, p), {slot_part_[i], slot_part_[i + 1]}};
}

void BlockTrainer::backward_streams(const Model& m, int b0, int b1) {
  if (b0 >= b1) return;
  const int B = B_, H = H_, GH = GH_, nb = b1 - b0;
  const std::size_t sH = static_cast<std::size_t>(H), sGH = static_cast<std::size_t>(GH);
  const std::size_t bh0 = static_cast<std::size_t>(b0) * sH;
  // Output errors reaching h_t (through the dropout mask); zero where nothing was scored.
  for (int t = 0; t < T_; ++t) {
    for (int b = b0; b < b1; ++b) {
      const std::size_t row = static_cast<std::size_t>(t) * B + static_cast<std::size_t>(b);
      float* e = e_.data() + row * sH;
      const int r = scored_row_[row];
      if (r < 0) {
        std::fill(e, e + sH, 0.0f);
        continue;
      }
      const float* d = dhd_.data() + static_cast<std::size_t>(r) * sH;
      if (dropout_applied_) {
        const float* mk = mask_.data() + static_cast<std::size_t>(r) * sH;
        for (int i = 0; i < H; ++i) e[i] = d[i] * mk[i];
      } else {
        std::memcpy(e, d, sizeof(float) * sH);
      }
    }
  }
  // BPTT through the block, t = T-1 .. 0; the state entering the block is a constant.
  float* carry = carry_.data() + bh0;
  float* dc = dc_.data() + bh0;
  float* dh_direct = gru_ ? dh_direct_.data() + bh0 : nullptr;
  std::fill(carry, carry + nb * sH, 0.0f);
  std::fill(dc, dc + nb * sH, 0.0f);
  for (int t = T_ - 1; t >= 0; --t) {
    const std::size_t row0 = static_cast<std::size_t>(t) * B + static_cast<std::size_t>(b0);
    float* du = du_.data() + row0 * sGH;
    float* dx = gru_ ? dx_.data() + row0 * sGH : nullptr;
    block_cell_backward(m, nb, active_.data() + row0, e_.data() + row0 * sH, carry, step_rows(t, b0), du, dx,
                        dh_direct, dc);
    if (t == 0) break;
    // dh_prev = dU @ recurrent (+ the GRU's direct path), one product for the range's streams;
    // cut where the stream was reset before step t.
    block_sgemm(false, false, nb, H, GH, 1.0f, du, GH, m.recurrent.data(), H, 0.0f, carry, H);
    for (int b = 0; b < nb; ++b) {
      const std::size_t row = row0 + static_cast<std::size_t>(b), bh = static_cast<std::size_t>(b) * sH;
      if (reset_[row] || !active_[row]) {
        std::fill(carry + bh, carry + bh + sH, 0.0f);
        if (lstm_) std::fill(dc + bh, dc + bh + sH, 0.0f);
        continue;
      }
      if (gru_) add_to(carry + bh, dh_direct + bh, sH);  // the other cells have no direct path
    }
  }
}

void BlockTrainer::assign_embed_slots() {
  const std::size_t TB = static_cast<std::size_t>(T_) * B_;
  for (std::int32_t w : embed_words_) embed_slot_[static_cast<std::size_t>(w)] = -1;
  embed_words_.clear();
  slot_start_.assign(1, 0);
  for (std::size_t row = 0; row < TB; ++row) {
    const std::int32_t w = in_[row];
    row_slot_[row] = -1;
    if (!active_[row] || w < 0) continue;
    std::int32_t& slot = embed_slot_[static_cast<std::size_t>(w)];
    if (slot < 0) {
      slot = static_cast<std::int32_t>(embed_words_.size());
      embed_words_.push_back(w);
      slot_start_.push_back(0);
    }
    row_slot_[row] = slot;
    ++slot_start_[static_cast<std::size_t>(slot) + 1];
  }
  // Counting sort of the positions by slot (position order within a slot), then the slots cut
  // into parts of about equal positions.
  const int slots = static_cast<int>(embed_words_.size());
  for (std::size_t s = 0; s < static_cast<std::size_t>(slots); ++s) slot_start_[s + 1] += slot_start_[s];
  const int total = slot_start_.back();
  slot_rows_.resize(static_cast<std::size_t>(total));
  for (std::size_t row = 0; row < TB; ++row) {  // each slot's start moves on to the next one's
    const int slot = row_slot_[row];
    if (slot < 0) continue;
    int& next = slot_start_[static_cast<std::size_t>(slot)];
    slot_rows_[static_cast<std::size_t>(next++)] = static_cast<int>(row);
  }
  for (std::size_t s = static_cast<std::size_t>(slots); s > 0; --s) slot_start_[s] = slot_start_[s - 1];
  slot_start_[0] = 0;
  slot_part_.assign(static_cast<std::size_t>(parts_) + 1, slots);
  slot_part_[0] = 0;
  for (int p = 1; p < parts_; ++p) {
    const int target = static_cast<int>(static_cast<std::int64_t>(total) * p / parts_);
    slot_part_[static_cast<std::size_t>(p)] =
        static_cast<int>(std::lower_bound(slot_start_.begin(), slot_start_.end() - 1, target) - slot_start_.begin());
  }
}

double BlockTrainer::gradient_part(const Model& m, int p) {
  const int H = H_, GH = GH_, K = T_ * B_;
  const std::size_t sH = static_cast<std::size_t>(H), sGH = static_cast<std::size_t>(GH);
  const Ranges r = part_ranges(p);
  const PartRange g = r.gates, k = r.classes, s = r.slots;
  // recurrent's rows as one product over the block (K = T * B).
  if (g.size() > 0) {
    block_sgemm(true, false, g.size(), H, K, 1.0f, du_.data() + g.begin, GH, hprev_.data(), H, 0.0f,
                g_recurrent_.data() + static_cast<std::size_t>(g.begin) * sH, H);
  }
  const float* d_x = input_errors();
  float* hb = g_hidden_bias_.data() + g.begin;
  std::fill(hb, hb + g.size(), 0.0f);
  for (std::size_t row = 0; row < static_cast<std::size_t>(K); ++row) {
    add_to(hb, d_x + row * sGH + g.begin, static_cast<std::size_t>(g.size()));
  }
  out_.class_gradient(m, k.begin, k.end, g_class_w_.data(), g_class_b_.data());
  // Embedding rows: the sum of the input errors of each input word (d_x, or dxe with an embedding).
  const float* d_in = E_ > 0 ? dxe_.data() : d_x;
  const std::size_t sW = static_cast<std::size_t>(EW_);
  for (int slot = s.begin; slot < s.end; ++slot) {
    float* ge = g_embed_.data() + static_cast<std::size_t>(slot) * sW;
    const std::size_t q0 = static_cast<std::size_t>(slot_start_[static_cast<std::size_t>(slot)]);
    const std::size_t q1 = static_cast<std::size_t>(slot_start_[static_cast<std::size_t>(slot) + 1]);
    auto d_in_row = [&](std::size_t q) { return d_in + static_cast<std::size_t>(slot_rows_[q]) * sW; };
    std::memcpy(ge, d_in_row(q0), sizeof(float) * sW);
    for (std::size_t q = q0 + 1; q < q1; ++q) add_to(ge, d_in_row(q), sW);
  }
  // This part's share of the squared norm over every gradient except the direct weights'.
  auto sq = [](const float* x, std::size_t n) { return dot_double(x, x, n); };
  double norm2 = E_ > 0 ? input_w_gradient(g) : 0.0;
  norm2 += sq(g_embed_.data() + static_cast<std::size_t>(s.begin) * sW, static_cast<std::size_t>(s.size()) * sW);
  norm2 += sq(g_recurrent_.data() + static_cast<std::size_t>(g.begin) * sH, static_cast<std::size_t>(g.size()) * sH);
  norm2 += sq(hb, static_cast<std::size_t>(g.size()));
  norm2 += sq(g_class_w_.data() + static_cast<std::size_t>(k.begin) * sH, static_cast<std::size_t>(k.size()) * sH);
  norm2 += sq(g_class_b_.data() + k.begin, static_cast<std::size_t>(k.size()));
  const auto& class_begin = m.class_begin();
  const PartRange used = out_.part_classes(p);
  for (int u = used.begin; u < used.end; ++u) {
    const std::int32_t c = out_.used_classes()[static_cast<std::size_t>(u)];
    norm2 += sq(g_word_b_.data() + class_begin[c], static_cast<std::size_t>(class_begin[c + 1] - class_begin[c]));
  }
  return norm2;
}

double BlockTrainer::backward(const Model& m) {
  run_parts(parts_, [&](int p) {
    const PartRange s = split_range(B_, parts_, p);
    backward_streams(m, s.begin, s.end);
  });
  if (E_ > 0) embedding_errors(m);
  assign_embed_slots();
  run_parts(parts_, [&](int p) { norm_part_[static_cast<std::size_t>(p)] = gradient_part(m, p); });
  // The parts' shares summed in part order: one result per thread count.
  double norm2 = 0, word_norm2 = 0;
  for (double x : norm_part_) norm2 += x;
  for (double x : word_norm_part_) word_norm2 += x;
  return norm2 + word_norm2;
}

void BlockTrainer::update_part(Model& m, int p, float a, float keep) {
  const std::size_t sH = static_cast<std::size_t>(H_), sW = static_cast<std::size_t>(EW_);
  const std::size_t sE = static_cast<std::size_t>(E_);
  const Ranges r = part_ranges(p);
  auto dense = [&](float* w, const float* g, std::size_t n, float k) { scale_add(w, g, n, k, -a); };
  const std::size_t g0 = static_cast<std::size_t>(r.gates.begin), ng = static_cast<std::size_t>(r.gates.size());
  const std::size_t k0 = static_cast<std::size_t>(r.classes.begin), nk = static_cast<std::size_t>(r.classes.size());
  dense(m.recurrent.data() + g0 * sH, g_recurrent_.data() + g0 * sH, ng * sH, keep);
  if (E_ > 0) dense(m.input_w.data() + g0 * sE, g_input_w_.data() + g0 * sE, ng * sE, keep);
  dense(m.class_w.data() + k0 * sH, g_class_w_.data() + k0 * sH, nk * sH, keep);
  dense(m.hidden_bias.data() + g0, g_hidden_bias_.data() + g0, ng, 1.0f);
  dense(m.class_b.data() + k0, g_class_b_.data() + k0, nk, 1.0f);
  const auto& class_begin = m.class_begin();
  const PartRange used = out_.part_classes(p);
  for (int u = used.begin; u < used.end; ++u) {
    const std::int32_t c = out_.used_classes()[static_cast<std::size_t>(u)];
    const std::size_t b = static_cast<std::size_t>(class_begin[c]), e = static_cast<std::size_t>(class_begin[c + 1]);
    dense(m.word_b.data() + b, g_word_b_.data() + b, e - b, 1.0f);
  }
  out_.word_update(m, p, g_word_w_.data(), m.word_w.data(), -a, 1.0f);
  for (int s = r.slots.begin; s < r.slots.end; ++s) {
    const std::size_t i = static_cast<std::size_t>(s);
    dense(m.embed.data() + static_cast<std::size_t>(embed_words_[i]) * sW, g_embed_.data() + i * sW, sW, 1.0f);
  }
}

void BlockTrainer::apply_update(Model& m, float scale) {
  const float a = o_.lr * scale;
  const float keep = 1.0f - o_.lr * o_.l2;
  run_parts(parts_, [&](int p) { update_part(m, p, a, keep); });
  out_.add_direct_gradient(m, m.direct.data(), -a);  // serial: hashed features of two parts may collide
  if (marks_ != nullptr) {
    for (std::int32_t w : embed_words_) marks_->embed_row(w);
    out_.mark_updates(m, *marks_);
  }
}

void BlockTrainer::gradient_into(const Model& m, Model& grad) const {
  const std::size_t sW = static_cast<std::size_t>(EW_);
  std::copy(g_recurrent_.begin(), g_recurrent_.end(), grad.recurrent.begin());
  if (E_ > 0) std::copy(g_input_w_.begin(), g_input_w_.end(), grad.input_w.begin());
  std::copy(g_hidden_bias_.begin(), g_hidden_bias_.end(), grad.hidden_bias.begin());
  std::copy(g_class_w_.begin(), g_class_w_.end(), grad.class_w.begin());
  std::copy(g_class_b_.begin(), g_class_b_.end(), grad.class_b.begin());
  const auto& class_begin = m.class_begin();
  for (std::int32_t c : out_.used_classes()) {
    const std::size_t b = static_cast<std::size_t>(class_begin[c]), e = static_cast<std::size_t>(class_begin[c + 1]);
    std::copy(g_word_b_.begin() + static_cast<std::ptrdiff_t>(b), g_word_b_.begin() + static_cast<std::ptrdiff_t>(e),
              grad.word_b.begin() + b);
  }
  for (int p = 0; p < parts_; ++p) out_.word_update(m, p, g_word_w_.data(), grad.word_w.data(), 1.0f, 0.0f);
  for (std::size_t s = 0; s < embed_words_.size(); ++s) {
    std::copy(g_embed_.begin() + static_cast<std::ptrdiff_t>(s * sW),
              g_embed_.begin() + static_cast<std::ptrdiff_t>((s + 1) * sW),
              grad.embed.begin() + static_cast<std::size_t>(embed_words_[s]) * sW);
  }
  out_.add_direct_gradient(m, grad.direct.data(), 1.0f);
}

}  // namespace rnnlm
