#include "block_cell.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "simd.h"

namespace rnnlm {
namespace {

#define RNNLM_INLINE static inline __attribute__((always_inline))

// n zeros, n <= the largest G*H (kept per thread, grown once).
const float* zero_row(std::size_t n) {
  thread_local std::vector<float> zeros;
  if (zeros.size() < n) zeros.assign(n, 0.0f);
  return zeros.data();
}

// Elements [i, i + width of V) of one row's forward; x = the input word's embedding row (zeros: no
// input), b = hidden_bias.
template <Cell kCell, class V>
RNNLM_INLINE void forward_at(int i, int H, const float* __restrict x, const float* __restrict b,
                             const float* __restrict u, const float* __restrict hp, const float* __restrict cp,
                             float* __restrict h, float* __restrict c, float* __restrict a,
                             float* __restrict un, float* __restrict tc) {
  const V tag{};
  if constexpr (kCell == Cell::kSigmoid || kCell == Cell::kTanh || kCell == Cell::kRelu) {
    const V v = vload(tag, u + i) + vload(tag, b + i) + vload(tag, x + i);  // (u + b) + x, as cell_update
    vstore(h + i, kCell == Cell::kSigmoid ? sigmoid_vec(v) : kCell == Cell::kTanh ? tanh_vec(v) : relu_vec(v));
  } else if constexpr (kCell == Cell::kGru) {
    const V z = sigmoid_vec((vload(tag, b + i) + vload(tag, x + i)) + vload(tag, u + i));
    const V r = sigmoid_vec((vload(tag, b + H + i) + vload(tag, x + H + i)) + vload(tag, u + H + i));
    const V vn = vload(tag, u + 2 * H + i);
    const V n = tanh_vec((vload(tag, b + 2 * H + i) + vload(tag, x + 2 * H + i)) + r * vn);
    vstore(a + i, z);
    vstore(a + H + i, r);
    vstore(a + 2 * H + i, n);
    vstore(un + i, vn);
    vstore(h + i, (1.0f - z) * n + z * vload(tag, hp + i));
  } else {  // LSTM: gates i, f, g, o
    const V gi = sigmoid_vec((vload(tag, b + i) + vload(tag, x + i)) + vload(tag, u + i));
    const V gf = sigmoid_vec((vload(tag, b + H + i) + vload(tag, x + H + i)) + vload(tag, u + H + i));
    const V gg = tanh_vec((vload(tag, b + 2 * H + i) + vload(tag, x + 2 * H + i)) + vload(tag, u + 2 * H + i));
    const V go = sigmoid_vec((vload(tag, b + 3 * H + i) + vload(tag, x + 3 * H + i)) + vload(tag, u + 3 * H + i));
    const V cc = gf * vload(tag, cp + i) + gi * gg;
    const V t = tanh_vec(cc);
    vstore(a + i, gi);
    vstore(a + H + i, gf);
    vstore(a + 2 * H + i, gg);
    vstore(a + 3 * H + i, go);
    vstore(c + i, cc);
    vstore(tc + i, t);
    vstore(h + i, go * t);
  }
}

template <Cell kCell>
RNNLM_INLINE void forward_row(int H, const float* x, const float* b, const float* u, const float* hp,
                              const float* cp, float* h, float* c, float* a, float* un, float* tc) {
  int i = 0;
  for (; i + 8 <= H; i += 8) forward_at<kCell, v8f>(i, H, x, b, u, hp, cp, h, c, a, un, tc);
  for (; i < H; ++i) forward_at<kCell, float>(i, H, x, b, u, hp, cp, h, c, a, un, tc);
}

template <Cell kCell>
RNNLM_INLINE void forward_rows(const Model& m, int B, const std::int32_t* in, const float* x_rows,
                               const std::uint8_t* active, const BlockStepRows& s, float* h_cur, float* c_cur) {
  const int H = m.hidden(), GH = m.gates() * H;
  const std::size_t sH = static_cast<std::size_t>(H), sGH = static_cast<std::size_t>(GH);
  const float* bias = m.hidden_bias.data();
  const float* zeros = nullptr;  // the input of a row without an input word
  for (int b = 0; b < B; ++b) {
    if (!active[b]) continue;
    const std::size_t rh = static_cast<std::size_t>(b) * sH, rg = static_cast<std::size_t>(b) * sGH;
    if (x_rows == nullptr && in[b] < 0 && zeros == nullptr) zeros = zero_row(sGH);
    const float* x = x_rows != nullptr ? x_rows + rg
                     : in[b] >= 0      ? m.embed.data() + static_cast<std::size_t>(in[b]) * sGH
                                       : zeros;
    const bool lstm = kCell == Cell::kLstm, gru = kCell == Cell::kGru;
    forward_row<kCell>(H, x, bias, s.u + rg, s.hprev + rh, lstm ? s.cprev + rh : nullptr, s.h + rh,
                       lstm ? s.c + rh : nullptr, lstm || gru ? s.gates + rg : nullptr, gru ? s.un + rh : nullptr,
                       lstm ? s.tc + rh : nullptr);
    std::memcpy(h_cur + rh, s.h + rh, sizeof(float) * sH);
    if (lstm) std::memcpy(c_cur + rh, s.c + rh, sizeof(float) * sH);
  }
}

// Elements [i, i + width of V) of one row's backward, dh = e + carry.
template <Cell kCell, class V>
RNNLM_INLINE void backward_at(int i, int H, const float* __restrict e, const float* __restrict carry,
                              const float* __restrict h, const float* __restrict a, const float* __restrict un,
                              const float* __restrict tc, const float* __restrict hp,
                              const float* __restrict cp, float* __restrict du, float* __restrict dx,
                              float* __restrict dh_direct, float* __restrict dc) {
  const V tag{};
  const V dh = vload(tag, e + i) + vload(tag, carry + i);
  if constexpr (kCell == Cell::kSigmoid) {
    const V hv = vload(tag, h + i);
    vstore(du + i, dh * (hv * (1.0f - hv)));
  } else if constexpr (kCell == Cell::kTanh) {
    const V hv = vload(tag, h + i);
    vstore(du + i, dh * (1.0f - hv * hv));
  } else if constexpr (kCell == Cell::kRelu) {
    const V hv = vload(tag, h + i);
    vstore(du + i, hv > 0.0f ? dh : vsplat(dh, 0.0f));
  } else if constexpr (kCell == Cell::kGru) {
    const V z = vload(tag, a + i), r = vload(tag, a + H + i), n = vload(tag, a + 2 * H + i);
    const V dn = dh * (1.0f - z);
    const V dz = dh * (vload(tag, hp + i) - n);
    const V dan = dn * (1.0f - n * n);
    const V dr = dan * vload(tag, un + i);
    const V gz = dz * z * (1.0f - z), gr = dr * r * (1.0f - r);
    vstore(du + i, gz);
    vstore(dx + i, gz);
    vstore(du + H + i, gr);
    vstore(dx + H + i, gr);
    vstore(dx + 2 * H + i, dan);
    vstore(du + 2 * H + i, dan * r);
    vstore(dh_direct + i, dh * z);
  } else {  // LSTM
    const V gi = vload(tag, a + i), gf = vload(tag, a + H + i), gg = vload(tag, a + 2 * H + i);
    const V go = vload(tag, a + 3 * H + i), t = vload(tag, tc + i);
    const V dct = vload(tag, dc + i) + dh * go * (1.0f - t * t);
    vstore(du + i, dct * gg * gi * (1.0f - gi));
    vstore(du + H + i, dct * vload(tag, cp + i) * gf * (1.0f - gf));
    vstore(du + 2 * H + i, dct * gi * (1.0f - gg * gg));
    vstore(du + 3 * H + i, dh * t * go * (1.0f - go));
    vstore(dc + i, dct * gf);
  }
}

template <Cell kCell>
RNNLM_INLINE void backward_row(int H, const float* e, const float* carry, const float* h, const float* a,
                               const float* un, const float* tc, const float* hp, const float* cp, float* du,
                               float* dx, float* dh_direct, float* dc) {
  int i = 0;
  for (; i + 8 <= H; i += 8) backward_at<kCell, v8f>(i, H, e, carry, h, a, un, tc, hp, cp, du, dx, dh_direct, dc);
  for (; i < H; ++i) backward_at<kCell, float>(i, H, e, carry, h, a, un, tc, hp, cp, du, dx, dh_direct, dc);
}

template <Cell kCell>
RNNLM_INLINE void backward_rows(const Model& m, int B, const std::uint8_t* active, const float* e,
                                const float* carry, const BlockStepRows& s, float* d_u, float* d_x,
                                float* dh_direct, float* dc) {
  const int H = m.hidden(), GH = m.gates() * H;
  const std::size_t sH = static_cast<std::size_t>(H), sGH = static_cast<std::size_t>(GH);
  const bool lstm = kCell == Cell::kLstm, gru = kCell == Cell::kGru;
  for (int b = 0; b < B; ++b) {
    const std::size_t rh = static_cast<std::size_t>(b) * sH, rg = static_cast<std::size_t>(b) * sGH;
    if (!active[b]) {
      std::fill(d_u + rg, d_u + rg + sGH, 0.0f);
      if (gru) {
        std::fill(d_x + rg, d_x + rg + sGH, 0.0f);
        std::fill(dh_direct + rh, dh_direct + rh + sH, 0.0f);
      }
      if (lstm) std::fill(dc + rh, dc + rh + sH, 0.0f);
      continue;
    }
    backward_row<kCell>(H, e + rh, carry + rh, s.h + rh, lstm || gru ? s.gates + rg : nullptr,
                        gru ? s.un + rh : nullptr, lstm ? s.tc + rh : nullptr, s.hprev + rh,
                        lstm ? s.cprev + rh : nullptr, d_u + rg, gru ? d_x + rg : nullptr,
                        gru ? dh_direct + rh : nullptr, lstm ? dc + rh : nullptr);
  }
}

}  // namespace

RNNLM_CLONES
void block_cell_forward(const Model& m, int B, const std::int32_t* in, const float* x_rows,
                        const std::uint8_t* active, const BlockStepRows& s, float* h_cur, float* c_cur) {
  switch (m.cell()) {
    case Cell::kSigmoid: return forward_rows<Cell::kSigmoid>(m, B, in, x_rows, active, s, h_cur, c_cur);
    case Cell::kTanh: return forward_rows<Cell::kTanh>(m, B, in, x_rows, active, s, h_cur, c_cur);
    case Cell::kRelu: return forward_rows<Cell::kRelu>(m, B, in, x_rows, active, s, h_cur, c_cur);
    case Cell::kGru: return forward_rows<Cell::kGru>(m, B, in, x_rows, active, s, h_cur, c_cur);
    case Cell::kLstm: return forward_rows<Cell::kLstm>(m, B, in, x_rows, active, s, h_cur, c_cur);
  }
}

RNNLM_CLONES
void block_cell_backward(const Model& m, int B, const std::uint8_t* active, const float* e, const float* carry,
                         const BlockStepRows& s, float* d_u, float* d_x, float* dh_direct, float* dc) {
  switch (m.cell()) {
    case Cell::kSigmoid: return backward_rows<Cell::kSigmoid>(m, B, active, e, carry, s, d_u, d_x, dh_direct, dc);
    case Cell::kTanh: return backward_rows<Cell::kTanh>(m, B, active, e, carry, s, d_u, d_x, dh_direct, dc);
    case Cell::kRelu: return backward_rows<Cell::kRelu>(m, B, active, e, carry, s, d_u, d_x, dh_direct, dc);
    case Cell::kGru: return backward_rows<Cell::kGru>(m, B, active, e, carry, s, d_u, d_x, dh_direct, dc);
    case Cell::kLstm: return backward_rows<Cell::kLstm>(m, B, active, e, carry, s, d_u, d_x, dh_direct, dc);
  }
}

}  // namespace rnnlm
