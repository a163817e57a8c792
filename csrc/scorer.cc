#include "scorer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "class_softmax.h"
#include "errors.h"

namespace rnnlm {
namespace {

// Runs positions [begin, end); writes ln P into out when out != nullptr (else warm-up).
void run_positions(const Model& m, const std::int32_t* ids, std::int64_t begin, std::int64_t end,
                   std::int64_t first, ScoringState& st, double* out) {
  for (std::int64_t k = begin; k < end; ++k) {
    st.step(m, k == first ? 0 : ids[k - 1]);
    if (out != nullptr) {
      out[k] = ids[k] >= 0 ? output_forward(m, st.h.data(), ids[k], st.ngram.data(), st.out) : 0.0;
    }
  }
}

}  // namespace

void score_positions(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                     std::int64_t n_sentences, bool independent, int threads, double* out,
                     const ScoreProgress& progress) {
  if (threads < 1) throw ConfigError("threads must be at least 1");
  const std::int64_t n_chunks = (n_sentences + kScoreChunkSentences - 1) / kScoreChunkSentences;
  threads = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(threads, n_chunks)));
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> done{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  bool interrupted = false;
  auto last_report = std::chrono::steady_clock::now();

#pragma omp parallel num_threads(threads)
  {
    try {
      ScoringState st(m);
      bool master = true;
#ifdef _OPENMP
      master = omp_get_thread_num() == 0;
#endif
#pragma omp for schedule(dynamic, 1)
      for (std::int64_t c = 0; c < n_chunks; ++c) {
        if (stop.load(std::memory_order_relaxed)) continue;
        const std::int64_t s0 = c * kScoreChunkSentences;
        const std::int64_t s1 = std::min(n_sentences, s0 + kScoreChunkSentences);
        if (independent) {
          for (std::int64_t s = s0; s < s1; ++s) {
            st.reset();
            run_positions(m, ids, offsets[s], offsets[s + 1], offsets[s], st, out);
          }
        } else {
          // Carried state: a fixed warm-up, so the result is the same for any thread count.
          const std::int64_t w0 = std::max<std::int64_t>(0, s0 - kScoreWarmupSentences);
          st.reset();
          run_positions(m, ids, offsets[w0], offsets[s0], offsets[w0], st, nullptr);
          run_positions(m, ids, offsets[s0], offsets[s1], offsets[w0], st, out);
        }
        done.fetch_add(offsets[s1] - offsets[s0], std::memory_order_relaxed);
        if (master && progress) {
          const auto now = std::chrono::steady_clock::now();
          if (now - last_report > std::chrono::milliseconds(200)) {
            last_report = now;
            if (!progress(done.load())) {
              interrupted = true;
              stop.store(true);
            }
          }
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      stop.store(true);
    }
  }
  if (error) std::rethrow_exception(error);
  if (interrupted) throw Interrupted("scoring interrupted");
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

}  // namespace rnnlm
