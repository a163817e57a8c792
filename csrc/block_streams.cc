// How the corpus becomes the block trainer's B streams, and each block's positions: the split
// into whole sentences, the inputs and targets of every (step, stream) row, sentence resets, the
// direct connections' context, and the rows one step's cell kernels read and write.
#include <algorithm>
#include <cstring>

#include "block_trainer.h"
#include "corpus.h"

namespace rnnlm {

void BlockTrainer::start_streams(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                                 std::int64_t n) {
  ids_ = ids;
  offsets_ = offsets;
  // Stream b: sentences [first[b], first[b+1]), cut at sentence starts as evenly as possible by
  // positions (corpus.h's shard_sentences, the split the threads of online training use).
  const std::vector<std::int64_t> first = shard_sentences(offsets, n, B_);
  ngram_.clear();
  rng_.clear();
  for (int b = 0; b < B_; ++b) {
    const std::size_t i = static_cast<std::size_t>(b);
    sentence_[i] = first[i];
    begin_[i] = k_[i] = offsets[first[i]];
    end_[i] = offsets[first[i + 1]];
    ngram_.emplace_back(m.direct_order());
    rng_.emplace_back(o_.seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(b + 1));
  }
  std::fill(h_cur_.begin(), h_cur_.end(), reset_value_);
  std::fill(c_cur_.begin(), c_cur_.end(), 0.0f);
}

std::int64_t BlockTrainer::next_block(bool drop_inputs) {
  std::int64_t positions = 0;
  const bool dropping = drop_inputs && o_.input_dropout > 0;
  for (int b = 0; b < B_; ++b) {
    const std::size_t sb = static_cast<std::size_t>(b);
    for (int t = 0; t < T_; ++t) {
      const std::size_t row = static_cast<std::size_t>(t) * B_ + sb;
      const std::int64_t k = k_[sb] + t;
      if (k >= end_[sb]) {
        active_[row] = 0;
        reset_[row] = 0;
        in_[row] = -1;
        target_[row] = -1;
        continue;
      }
      ++positions;
      active_[row] = 1;
      while (offsets_[sentence_[sb] + 1] <= k) ++sentence_[sb];
      const bool reset = k == begin_[sb] || (o_.independent && offsets_[sentence_[sb]] == k);
      reset_[row] = reset ? 1 : 0;
      in_[row] = k == begin_[sb] ? 0 : ids_[k - 1];
      target_[row] = ids_[k];
      NgramHistory& g = ngram_[sb];
      if (reset) g.reset();
      g.push(in_[row]);
      std::memcpy(hist_words_.data() + row * static_cast<std::size_t>(hist_len_), g.data(),
                  sizeof(std::int32_t) * static_cast<std::size_t>(hist_len_));
      // A dropped input feeds the cell no projection (as online SGD's input_dropout); the direct
      // connections still see the word. Drawn from the stream's generator before its masks.
      if (dropping && rng_[sb].uniform() < o_.input_dropout) in_[row] = -1;
    }
    k_[sb] = std::min(end_[sb], k_[sb] + T_);
  }
  return positions;
}

BlockStepRows BlockTrainer::step_rows(int t, int b0) {
  const std::size_t row = static_cast<std::size_t>(t) * B_ + static_cast<std::size_t>(b0);
  const std::size_t H = static_cast<std::size_t>(H_), GH = static_cast<std::size_t>(GH_);
  BlockStepRows s{};
  s.u = u_.data() + static_cast<std::size_t>(b0) * GH;
  s.hprev = hprev_.data() + row * H;
  s.h = h_.data() + row * H;
  if (lstm_) {
    s.cprev = cprev_.data() + row * H;
    s.c = c_.data() + row * H;
    s.tc = tc_.data() + row * H;
  }
  if (!gates_.empty()) s.gates = gates_.data() + row * GH;
  if (gru_) s.un = un_.data() + row * H;
  return s;
}

}  // namespace rnnlm
