// Scoring on a const model: the log-probability of every word of a corpus or of a batch of
// sentences, parallel over sentences, with results that do not depend on the thread count.
// ScoringState, one thread's state, also serves generation (generate.h).
#pragma once

#include <cstdint>
#include <functional>

#include <vector>

#include "class_softmax.h"
#include "direct.h"
#include "rnn.h"

namespace rnnlm {

// Sentences per work unit, and for carried state the sentences replayed before a unit so
// its first words see (almost exactly) the history a single sequential pass would give.
constexpr std::int64_t kScoreChunkSentences = 256;
constexpr std::int64_t kScoreWarmupSentences = 4;
// Sequences each thread advances in lockstep, so the recurrent and class matrices are read
// once per step for all of them (matrix-matrix work instead of matrix-vector).
constexpr int kScoreLanes = 8;
// Independent sentences per work unit, scored in sorted order so that the positions a
// sentence shares with the one before it (same leading words) are computed once.
constexpr std::int64_t kShareRunSentences = 64;
// Depths whose states are kept for that (memory per lane: this many hidden and cell states).
constexpr std::int64_t kShareMaxDepth = 256;

// One thread's recurrent state and output buffers for scoring and generation.
struct ScoringState {
  explicit ScoringState(const Model& m)
      : H(static_cast<std::size_t>(m.hidden())),
        reset_value(m.reset_value()),
        h(H), h_next(H), c(H), c_next(H),
        gates(static_cast<std::size_t>(m.gates()) * H), un(H), tc(H),
        out(m), ngram(m.direct_order()) {}
  void reset() {
    std::fill(h.begin(), h.end(), reset_value);
    std::fill(c.begin(), c.end(), 0.0f);
    ngram.reset();
  }
  // Advances by one input word.
  void step(const Model& m, std::int32_t in) {
    m.forward_step(in, h.data(), c.data(), StepState{h_next.data(), c_next.data(), gates.data(), un.data(), tc.data()},
                   scratch);
    h.swap(h_next);
    c.swap(c_next);
    ngram.push(in);
  }
  std::size_t H;
  float reset_value;
  std::vector<float> h, h_next, c, c_next, gates, un, tc;
  StepScratch scratch;
  OutputScratch out;
  NgramHistory ngram;
};

// A decoder's position in a sentence (KenLM's State): the recurrent state before the next
// word is read, the input word still to be read (0: </s>, the sentence start; -1: none)
// and the number of words scored since the start. Copyable: one per hypothesis.
struct DecoderState {
  explicit DecoderState(const Model& m) : st(m), order(m.direct_order()) {}
  ScoringState st;
  int order;  // the model's direct order: states of other models are refused
  std::int32_t pending = 0;
  std::int64_t length = 0;
};

// The sentence start (after <s>): the reset state with </s> as the next input, as
// score_positions begins every sentence.
void begin_sentence(DecoderState& s);
// No context at all: the reset state with no input word (KenLM's NullContextWrite).
void null_context(DecoderState& s);
// ln P(word | s), then advances s past `word`. word < 0 (not in the vocabulary, no <unk>)
// returns 0 and is read as no input, exactly as score_positions treats it: stepping through
// a sentence gives bit-identical values. Throws ConfigError when `s` was made for another
// model's sizes, VocabularyError when word >= vocab_size. Reads the model; thread-safe with
// a state per thread.
double score_step(const Model& m, DecoderState& s, std::int32_t word);

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
