#include "generate.h"

#include "class_softmax.h"
#include "errors.h"
#include "scorer.h"

namespace rnnlm {

void next_word_distribution(const Model& m, const std::int32_t* context, std::int64_t n, float* out) {
  for (std::int64_t k = 0; k < n; ++k) {
    if (context[k] < -1 || context[k] >= m.vocab_size()) throw VocabularyError("context id out of range");
  }
  ScoringState st(m);
  st.reset();
  std::int32_t in = 0;
  for (std::int64_t k = 0; k <= n; ++k) {
    st.step(m, in);
    if (k < n) in = context[k];
  }
  output_distribution(m, st.h.data(), st.ngram.data(), st.out, out);
}

std::vector<std::int32_t> sample_sentence(const Model& m, const std::vector<std::int32_t>& prefix,
                                          int max_words, float temperature, Rng& rng) {
  if (!(temperature > 0)) throw ConfigError("temperature must be positive");
  if (max_words < 1) throw ConfigError("max_words must be at least 1");
  ScoringState st(m);
  st.reset();
  std::vector<std::int32_t> out;
  std::int32_t in = 0;
  for (auto w : prefix) {
    if (w < -1 || w >= m.vocab_size()) throw VocabularyError("prefix word id out of range");
    st.step(m, in);
    in = w;
  }
  for (int k = 0; k < max_words; ++k) {
    st.step(m, in);
    const double u1 = rng.uniform(), u2 = rng.uniform();
    in = output_sample(m, st.h.data(), st.ngram.data(), st.out, temperature, u1, u2);
    if (in == 0) break;
    out.push_back(in);
  }
  return out;
}

std::vector<std::vector<std::int32_t>> generate(const Model& m, const std::vector<std::int32_t>& prefix,
                                                int n_sentences, int max_words, float temperature,
                                                std::uint64_t seed) {
  std::vector<std::vector<std::int32_t>> out;
  Rng rng(seed);
  for (int i = 0; i < n_sentences; ++i) out.push_back(sample_sentence(m, prefix, max_words, temperature, rng));
  return out;
}

}  // namespace rnnlm
