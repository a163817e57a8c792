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

// A sequence of positions scored on its own from the reset state: a sentence (independent
// scoring) or a chunk of sentences with its warm-up (carried state).
struct Segment {
  std::int64_t begin, end, record_from;
};

// The state before the word at one depth of a sentence: what a later sentence with the same
// first words resumes from.
struct Snapshot {
  explicit Snapshot(const ScoringState& st) : h(st.h), c(st.c), ngram(st.ngram) {}
  void save(const ScoringState& st) {
    std::copy(st.h.begin(), st.h.end(), h.begin());
    std::copy(st.c.begin(), st.c.end(), c.begin());
    ngram = st.ngram;
  }
  void restore(ScoringState& st) const {
    std::copy(h.begin(), h.end(), st.h.begin());
    std::copy(c.begin(), c.end(), st.c.begin());
    st.ngram = ngram;
  }
  std::vector<float> h, c;
  NgramHistory ngram;
};

// One of a thread's concurrent sequences. With independent sentences a lane scores a run of
// sentences in sorted order (`run`, `run_end` index `order`), resuming each from the
// snapshot at the depth where it leaves the previous one: a shared prefix is scored once.
struct Lane {
  explicit Lane(const Model& m) : st(m) {}
  ScoringState st;
  Segment seg{0, 0, 0};
  std::int64_t k = 0;
  bool active = false;
  std::int64_t run = 0, run_end = 0;
  std::vector<Snapshot> snapshots;  // by depth in the current sentence
};

// Sentence indices sorted by their word ids, and for each one in that order the number of
// leading positions it shares with the one before it (0 for the first of a run).
void sort_for_sharing(const std::int32_t* ids, const std::int64_t* offsets, std::int64_t n,
                      std::vector<std::int64_t>& order, std::vector<std::int64_t>& shared) {
  order.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return std::lexicographical_compare(ids + offsets[a], ids + offsets[a + 1], ids + offsets[b], ids + offsets[b + 1]);
  });
  shared.assign(static_cast<std::size_t>(n), 0);
  for (std::int64_t r = 1; r < n; ++r) {
    const std::int64_t a = order[static_cast<std::size_t>(r - 1)], b = order[static_cast<std::size_t>(r)];
    const std::int64_t len = std::min(offsets[a + 1] - offsets[a], offsets[b + 1] - offsets[b]);
    std::int64_t d = 0;
    while (d < len && ids[offsets[a] + d] == ids[offsets[b] + d]) ++d;
    shared[static_cast<std::size_t>(r)] = d;
  }
}

}  // namespace

void score_positions(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                     std::int64_t n_sentences, bool independent, int threads, double* out,
                     const ScoreProgress& progress) {
  if (threads < 1) throw ConfigError("threads must be at least 1");
  const std::int64_t n_chunks = (n_sentences + kScoreChunkSentences - 1) / kScoreChunkSentences;
  // Independent sentences are scored in sorted runs of kShareRunSentences, so the words they
  // begin with in common (an n-best list's shared prefixes) are computed once; the result
  // is the same, as each position's score depends only on the words before it.
  std::vector<std::int64_t> order, shared;
  if (independent) sort_for_sharing(ids, offsets, n_sentences, order, shared);
  const std::int64_t n_runs = (n_sentences + kShareRunSentences - 1) / kShareRunSentences;
  const std::int64_t n_segments = independent ? n_runs : n_chunks;
  auto carried_segment = [&](std::int64_t i) {
    const std::int64_t s0 = i * kScoreChunkSentences;
    const std::int64_t s1 = std::min(n_sentences, s0 + kScoreChunkSentences);
    // Carried state: a fixed warm-up, so the result is the same for any thread count.
    const std::int64_t w0 = std::max<std::int64_t>(0, s0 - kScoreWarmupSentences);
    return Segment{offsets[w0], offsets[s1], offsets[s0]};
  };
  threads = static_cast<int>(std::max<std::int64_t>(
      1, std::min<std::int64_t>(threads, (n_segments + kScoreLanes - 1) / kScoreLanes)));
  std::atomic<std::int64_t> next{0};
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> done{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  bool interrupted = false;

#pragma omp parallel num_threads(threads)
  {
    try {
      bool master = true;
#ifdef _OPENMP
      master = omp_get_thread_num() == 0;
#endif
      const int H = m.hidden(), GH = m.gates() * m.hidden(), C = m.n_classes();
      std::vector<Lane> lanes;
      lanes.reserve(kScoreLanes);
      for (int i = 0; i < kScoreLanes; ++i) lanes.emplace_back(m);
      std::vector<float> u(static_cast<std::size_t>(kScoreLanes) * GH);
      std::vector<const float*> xs(kScoreLanes);
      std::vector<float*> ys(kScoreLanes);
      std::vector<Lane*> act(kScoreLanes);
      // Moves a lane of sorted sentences to its next sentence that has a position left to
      // compute: the shared leading positions are copied from the sentence before.
      auto next_sentence = [&](Lane& lane) {
        for (; lane.run < lane.run_end; ++lane.run) {
          const std::int64_t s = order[static_cast<std::size_t>(lane.run)];
          const std::int64_t begin = offsets[s], end = offsets[s + 1];
          // The first sentence of a run starts from the reset state.
          std::int64_t depth = lane.run % kShareRunSentences == 0 ? 0 : shared[static_cast<std::size_t>(lane.run)];
          if (depth > 0) {
            const std::int64_t prev = order[static_cast<std::size_t>(lane.run - 1)];
            if (depth < end - begin) {
              // Resume from a state saved on this path: the sentence before may be a strict
              // prefix of this one (a literal </s> inside a line), which never saved the state
              // at its own length, and states are saved only up to kShareMaxDepth.
              depth = std::min({depth, offsets[prev + 1] - offsets[prev] - 1, kShareMaxDepth - 1,
                                static_cast<std::int64_t>(lane.snapshots.size()) - 1});
            }
            std::copy(out + offsets[prev], out + offsets[prev] + depth, out + begin);
          }
          if (depth == end - begin) {  // the same sentence again
            done.fetch_add(depth, std::memory_order_relaxed);
            continue;
          }
          if (depth == 0) {
            lane.st.reset();
          } else {
            lane.snapshots[static_cast<std::size_t>(depth)].restore(lane.st);
          }
          lane.seg = Segment{begin, end, begin};
          lane.k = begin + depth;
          return true;
        }
        return false;
      };
      auto refill = [&](Lane& lane) {
        for (;;) {
          if (independent && lane.active && ++lane.run < lane.run_end && next_sentence(lane)) return;
          const std::int64_t i = stop.load(std::memory_order_relaxed) ? n_segments : next.fetch_add(1);
          lane.active = i < n_segments;
          if (!lane.active) return;
          if (!independent) {
            lane.seg = carried_segment(i);
            lane.k = lane.seg.begin;
            lane.st.reset();
            return;
          }
          lane.run = i * kShareRunSentences;
          lane.run_end = std::min(n_sentences, lane.run + kShareRunSentences);
          if (next_sentence(lane)) return;
        }
      };
      for (auto& lane : lanes) refill(lane);
      auto last_report = std::chrono::steady_clock::now();
      for (;;) {
        int n = 0;
        for (auto& lane : lanes) {
          if (lane.active) act[n++] = &lane;
        }
        if (n == 0) break;
        // One recurrent step for every lane: the weight matrix is read once for all.
        for (int i = 0; i < n; ++i) {
          xs[i] = act[i]->st.h.data();
          ys[i] = u.data() + static_cast<std::size_t>(i) * GH;
          const auto depth = static_cast<std::size_t>(act[i]->k - act[i]->seg.begin);
          if (independent && depth < static_cast<std::size_t>(kShareMaxDepth)) {
            // the state before this depth, for the next sentences of the run
            Lane& lane = *act[i];
            if (depth == lane.snapshots.size()) {
              lane.snapshots.emplace_back(lane.st);
            } else {
              lane.snapshots[depth].save(lane.st);
            }
          }
        }
        matvec_batch(m.recurrent.data(), GH, H, xs.data(), n, ys.data());
        int n_out = 0;
        for (int i = 0; i < n; ++i) {
          Lane& lane = *act[i];
          ScoringState& st = lane.st;
          const std::int32_t in = lane.k == lane.seg.begin ? 0 : ids[lane.k - 1];
          m.cell_update(in, ys[i], st.h.data(), st.c.data(),
                        StepState{st.h_next.data(), st.c_next.data(), st.gates.data(), st.un.data(), st.tc.data()});
          st.h.swap(st.h_next);
          st.c.swap(st.c_next);
          st.ngram.push(in);
          if (lane.k >= lane.seg.record_from && ids[lane.k] >= 0) {
            xs[n_out] = st.h.data();
            ys[n_out] = st.out.class_p.data();
            act[n_out++] = &lane;  // reuse: the lanes whose word is scored
          }
        }
        // The class layer for every scored lane at once, then each lane's own word class.
        matvec_batch(m.class_w.data(), C, H, xs.data(), n_out, ys.data());
        for (int i = 0; i < n_out; ++i) {
          Lane& lane = *act[i];
          out[lane.k] = output_forward(m, lane.st.h.data(), ids[lane.k], lane.st.ngram.data(), lane.st.out, true);
        }
        for (auto& lane : lanes) {
          if (!lane.active) continue;
          if (lane.k >= lane.seg.record_from && ids[lane.k] < 0) out[lane.k] = 0.0;
          if (++lane.k == lane.seg.end) {
            done.fetch_add(lane.seg.end - lane.seg.record_from, std::memory_order_relaxed);
            refill(lane);
          }
        }
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

void begin_sentence(DecoderState& s) {
  s.st.reset();
  s.pending = 0;
  s.length = 0;
}

void null_context(DecoderState& s) {
  s.st.reset();
  s.pending = -1;
  s.length = 0;
}

double score_step(const Model& m, DecoderState& s, std::int32_t word) {
  ScoringState& st = s.st;
  const int H = m.hidden(), GH = m.gates() * m.hidden(), C = m.n_classes();
  if (st.H != static_cast<std::size_t>(H) || st.out.class_p.size() != static_cast<std::size_t>(C) ||
      st.gates.size() != static_cast<std::size_t>(GH) || s.order != m.direct_order()) {
    throw ConfigError("the state belongs to a model of other sizes");
  }
  if (word >= m.vocab_size() || word < -1) throw VocabularyError("word id out of range");
  if (s.pending >= m.vocab_size() || s.pending < -1) throw VocabularyError("state's input word out of range");
  // The same kernels, in the same order, as one lane of score_positions.
  st.scratch.u.resize(static_cast<std::size_t>(GH));
  const float* x = st.h.data();
  float* y = st.scratch.u.data();
  matvec_batch(m.recurrent.data(), GH, H, &x, 1, &y);
  m.cell_update(s.pending, y, st.h.data(), st.c.data(),
                StepState{st.h_next.data(), st.c_next.data(), st.gates.data(), st.un.data(), st.tc.data()});
  st.h.swap(st.h_next);
  st.c.swap(st.c_next);
  st.ngram.push(s.pending);
  double lp = 0.0;
  if (word >= 0) {
    x = st.h.data();
    y = st.out.class_p.data();
    matvec_batch(m.class_w.data(), C, H, &x, 1, &y);
    lp = output_forward(m, st.h.data(), word, st.ngram.data(), st.out, true);
  }
  s.pending = word;
  ++s.length;
  return lp;
}

}  // namespace rnnlm
