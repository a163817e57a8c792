// The recurrent cell of block training (block_trainer.h) over one step of B streams at once: the
// elementwise forward and backward as fused loops, compiled per ISA (simd.h's clones). The math
// of Model::cell_update / backward_step (rnn.cc); results agree with them up to rounding (fused
// multiply-adds), not bit for bit. Deterministic: no reductions.
#pragma once

#include <cstdint>

#include "rnn.h"

namespace rnnlm {

// Step t's rows, B of each (row b of stream b); sizes per row in brackets. `G` = m.gates().
struct BlockStepRows {
  const float* u;      // [GH] recurrent products, recurrent @ hprev
  const float* hprev;  // [H] the state entering the step
  const float* cprev;  // [H] LSTM only
  float* h;            // [H] output
  float* c;            // [H] LSTM only
  float* gates;        // [GH] GRU z, r, n; LSTM i, f, g, o (nullptr for simple cells)
  float* un;           // [H] GRU's U_n hprev
  float* tc;           // [H] LSTM tanh(c)
};

// Forward of the rows with active[b] != 0 (input word in[b], < 0: none): fills h (c, gates, un,
// tc) and copies h (c) into h_cur (c_cur) rows; inactive rows are left untouched (state frozen).
// The input of row b: x_rows' row b (B x GH, a model with an embedding layer: the caller projected
// the words), or m's embed row of in[b] when x_rows is nullptr. Reads m's hidden_bias. Re-entrant.
void block_cell_forward(const Model& m, int B, const std::int32_t* in, const float* x_rows,
                        const std::uint8_t* active, const BlockStepRows& s, float* h_cur, float* c_cur);

// Backward of the same rows: dh = e + carry per row, then d_u (B x GH), d_x (GRU only, B x GH:
// the other cells' d_x equals d_u, so callers pass nullptr and read d_u), dh_direct (GRU only,
// B x H), and for the LSTM dc (B x H) in place: dL/dc of the step's output in, dL/dc_prev out.
// Inactive rows get zeros in every output. Reads s (the forward's values) only.
void block_cell_backward(const Model& m, int B, const std::uint8_t* active, const float* e, const float* carry,
                         const BlockStepRows& s, float* d_u, float* d_x, float* dh_direct, float* dc);

}  // namespace rnnlm
