// Scoring on a const model: the log-probability of every word of a corpus or of a batch of
// sentences, parallel over sentences, with results that do not depend on the thread count.
#pragma once

#include <cstdint>
#include <functional>

#include "rnn.h"

namespace rnnlm {

// Sentences per work unit, and for carried state the sentences replayed before a unit so
// its first words see (almost exactly) the history a single sequential pass would give.
constexpr std::int64_t kScoreChunkSentences = 256;
constexpr std::int64_t kScoreWarmupSentences = 4;

// Called on the calling thread now and then with the positions scored so far; returns
// false to stop (then Interrupted is thrown).
using ScoreProgress = std::function<bool(std::int64_t)>;

// out[k] = ln P(ids[k] | history) for every position k of sentences [0, n_sentences);
// 0 where ids[k] < 0 (not in the vocabulary; the caller applies its OOV policy).
// independent: the state is reset at each sentence (n-best, KenLM-style); otherwise it is
// carried across sentences as rnnlm-0.4b does, computed in chunks with a warm-up.
// Reads the model only; safe to call from several threads at once.
void score_positions(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                     std::int64_t n_sentences, bool independent, int threads, double* out,
                     const ScoreProgress& progress);

}  // namespace rnnlm
