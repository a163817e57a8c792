// Generation on a const model: the next-word distribution after a context, and sampled
// sentences. Both start from the reset state (after </s>), as a sentence does.
#pragma once

#include <cstdint>
#include <vector>

#include "rnn.h"

namespace rnnlm {

// P(w | </s> context[0..n)) for every word w into out[vocab_size]. Throws VocabularyError
// when a context id is outside [-1, vocab_size). Reads the model only; thread-safe.
void next_word_distribution(const Model& m, const std::int32_t* context, std::int64_t n, float* out);

// Samples one sentence (without its </s>) after the words `prefix`, at most `max_words`
// words, with the given softmax temperature. Throws ConfigError, VocabularyError.
std::vector<std::int32_t> sample_sentence(const Model& m, const std::vector<std::int32_t>& prefix,
                                          int max_words, float temperature, Rng& rng);

// `n_sentences` sentences sampled in turn from one generator seeded with `seed`.
// Throws as sample_sentence. Reads the model only; thread-safe.
std::vector<std::vector<std::int32_t>> generate(const Model& m, const std::vector<std::int32_t>& prefix,
                                                int n_sentences, int max_words, float temperature,
                                                std::uint64_t seed);

}  // namespace rnnlm
