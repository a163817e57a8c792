#include "block_cell.h"

#include <algorithm>
#include <cstring>

#include "simd.h"

namespace rnnlm {
namespace {

#define RNNLM_INLINE static inline __attribute__((always_inline))

// One row's forward; x = the input word's embedding row (nullptr: none), b = hidden_bias.
template <Cell kCell>
RNNLM_INLINE void forward_row(int H, const float* __restrict x, const float* __restrict b,
                              const float* __restrict u, const float* __restrict hp, const float* __restrict cp,
                              float* __restrict h, float* __restrict c, float* __restrict a,
                              float* __restrict un, float* __restrict tc) {
  if constexpr (kCell == Cell::kSigmoid || kCell == Cell::kTanh || kCell == Cell::kRelu) {
    // (u + b) + x, as cell_update
#pragma omp simd
    for (int i = 0; i < H; ++i) {
      const float v = u[i] + b[i] + (x != nullptr ? x[i] : 0.0f);
      h[i] = kCell == Cell::kSigmoid ? sigmoid_approx(v) : kCell == Cell::kTanh ? tanh_approx(v) : std::max(v, 0.0f);
    }
  } else if constexpr (kCell == Cell::kGru) {
#pragma omp simd
    for (int i = 0; i < H; ++i) {
      const float xz = x != nullptr ? x[i] : 0.0f, xr = x != nullptr ? x[H + i] : 0.0f;
      const float xn = x != nullptr ? x[2 * H + i] : 0.0f;
      const float z = sigmoid_approx((b[i] + xz) + u[i]);
      const float r = sigmoid_approx((b[H + i] + xr) + u[H + i]);
      const float vn = u[2 * H + i];
      const float n = tanh_approx((b[2 * H + i] + xn) + r * vn);
      a[i] = z;
      a[H + i] = r;
      a[2 * H + i] = n;
      un[i] = vn;
      h[i] = (1.0f - z) * n + z * hp[i];
    }
  } else {  // LSTM: gates i, f, g, o
#pragma omp simd
    for (int i = 0; i < H; ++i) {
      const float xi = x != nullptr ? x[i] : 0.0f, xf = x != nullptr ? x[H + i] : 0.0f;
      const float xg = x != nullptr ? x[2 * H + i] : 0.0f, xo = x != nullptr ? x[3 * H + i] : 0.0f;
      const float gi = sigmoid_approx((b[i] + xi) + u[i]);
      const float gf = sigmoid_approx((b[H + i] + xf) + u[H + i]);
      const float gg = tanh_approx((b[2 * H + i] + xg) + u[2 * H + i]);
      const float go = sigmoid_approx((b[3 * H + i] + xo) + u[3 * H + i]);
      const float cc = gf * cp[i] + gi * gg;
      const float t = tanh_approx(cc);
      a[i] = gi;
      a[H + i] = gf;
      a[2 * H + i] = gg;
      a[3 * H + i] = go;
      c[i] = cc;
      tc[i] = t;
      h[i] = go * t;
    }
  }
}

template <Cell kCell>
RNNLM_INLINE void forward_rows(const Model& m, int B, const std::int32_t* in, const std::uint8_t* active,
                               const BlockStepRows& s, float* h_cur, float* c_cur) {
  const int H = m.hidden(), GH = m.gates() * H;
  const std::size_t sH = static_cast<std::size_t>(H), sGH = static_cast<std::size_t>(GH);
  const float* bias = m.hidden_bias.data();
  for (int b = 0; b < B; ++b) {
    if (!active[b]) continue;
    const std::size_t rh = static_cast<std::size_t>(b) * sH, rg = static_cast<std::size_t>(b) * sGH;
    const float* x = in[b] >= 0 ? m.embed.data() + static_cast<std::size_t>(in[b]) * sGH : nullptr;
    const bool lstm = kCell == Cell::kLstm, gru = kCell == Cell::kGru;
    forward_row<kCell>(H, x, bias, s.u + rg, s.hprev + rh, lstm ? s.cprev + rh : nullptr, s.h + rh,
                       lstm ? s.c + rh : nullptr, lstm || gru ? s.gates + rg : nullptr, gru ? s.un + rh : nullptr,
                       lstm ? s.tc + rh : nullptr);
    std::memcpy(h_cur + rh, s.h + rh, sizeof(float) * sH);
    if (lstm) std::memcpy(c_cur + rh, s.c + rh, sizeof(float) * sH);
  }
}

// One row's backward, dh = e + carry.
template <Cell kCell>
RNNLM_INLINE void backward_row(int H, const float* __restrict e, const float* __restrict carry,
                               const float* __restrict h, const float* __restrict a, const float* __restrict un,
                               const float* __restrict tc, const float* __restrict hp,
                               const float* __restrict cp, float* __restrict du, float* __restrict dx,
                               float* __restrict dh_direct, float* __restrict dc) {
  if constexpr (kCell == Cell::kSigmoid) {
#pragma omp simd
    for (int i = 0; i < H; ++i) du[i] = (e[i] + carry[i]) * (h[i] * (1.0f - h[i]));
  } else if constexpr (kCell == Cell::kTanh) {
#pragma omp simd
    for (int i = 0; i < H; ++i) du[i] = (e[i] + carry[i]) * (1.0f - h[i] * h[i]);
  } else if constexpr (kCell == Cell::kRelu) {
#pragma omp simd
    for (int i = 0; i < H; ++i) du[i] = h[i] > 0.0f ? e[i] + carry[i] : 0.0f;
  } else if constexpr (kCell == Cell::kGru) {
#pragma omp simd
    for (int i = 0; i < H; ++i) {
      const float dh = e[i] + carry[i];
      const float z = a[i], r = a[H + i], n = a[2 * H + i];
      const float dn = dh * (1.0f - z);
      const float dz = dh * (hp[i] - n);
      const float dan = dn * (1.0f - n * n);
      const float dr = dan * un[i];
      const float gz = dz * z * (1.0f - z), gr = dr * r * (1.0f - r);
      du[i] = dx[i] = gz;
      du[H + i] = dx[H + i] = gr;
      dx[2 * H + i] = dan;
      du[2 * H + i] = dan * r;
      dh_direct[i] = dh * z;
    }
  } else {  // LSTM
#pragma omp simd
    for (int i = 0; i < H; ++i) {
      const float dh = e[i] + carry[i];
      const float gi = a[i], gf = a[H + i], gg = a[2 * H + i], go = a[3 * H + i];
      const float t = tc[i];
      const float dct = dc[i] + dh * go * (1.0f - t * t);
      du[i] = dct * gg * gi * (1.0f - gi);
      du[H + i] = dct * cp[i] * gf * (1.0f - gf);
      du[2 * H + i] = dct * gi * (1.0f - gg * gg);
      du[3 * H + i] = dh * t * go * (1.0f - go);
      dc[i] = dct * gf;
    }
  }
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
void block_cell_forward(const Model& m, int B, const std::int32_t* in, const std::uint8_t* active,
                        const BlockStepRows& s, float* h_cur, float* c_cur) {
  switch (m.cell()) {
    case Cell::kSigmoid: return forward_rows<Cell::kSigmoid>(m, B, in, active, s, h_cur, c_cur);
    case Cell::kTanh: return forward_rows<Cell::kTanh>(m, B, in, active, s, h_cur, c_cur);
    case Cell::kRelu: return forward_rows<Cell::kRelu>(m, B, in, active, s, h_cur, c_cur);
    case Cell::kGru: return forward_rows<Cell::kGru>(m, B, in, active, s, h_cur, c_cur);
    case Cell::kLstm: return forward_rows<Cell::kLstm>(m, B, in, active, s, h_cur, c_cur);
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
