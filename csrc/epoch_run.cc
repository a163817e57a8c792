#include "epoch_run.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>

#include "batch_trainer.h"
#include "corpus.h"
#include "errors.h"
#include "parallel_parts.h"

namespace rnnlm {
namespace {

// Words between merges of a thread's private dense weights into the shared model.
constexpr std::int64_t kDenseSyncWords = 64;

// Locks for merging thread views into the shared dense arrays, one per stripe of
// kMergeStripe floats: merges must not interleave on the same floats (a read-add-write
// race would drop a whole 64-word delta), but threads merging different stripes proceed
// in parallel.
constexpr std::size_t kMergeStripe = 4096;

class MergeLocks {
 public:
  explicit MergeLocks(Model& m) {
    for (const WeightArray* w : m.dense_arrays()) {
      first_.push_back(count_);
      count_ += (w->size() + kMergeStripe - 1) / kMergeStripe;
    }
    locks_ = std::make_unique<std::mutex[]>(count_);
  }
  std::mutex& at(int array, std::size_t stripe) { return locks_[first_[static_cast<std::size_t>(array)] + stripe]; }

 private:
  std::vector<std::size_t> first_;
  std::size_t count_ = 0;
  std::unique_ptr<std::mutex[]> locks_;
};

// The densely written arrays of a thread view, and their values at the last merge.
class DenseSync {
 public:
  DenseSync(Model& view, int tid) : tid_(tid) {
    const auto arrays = view.dense_arrays();
    for (int a = 0; a < Model::kDenseArrays; ++a) base_[a] = *arrays[a];
  }
  // shared += view - base (the thread's progress since the last merge), then the view and
  // its base take the shared values (everyone else's progress). Stripe by stripe under
  // its lock, each thread starting at a different stripe to avoid queueing.
  void merge(Model& shared, Model& view, MergeLocks& locks) {
    const auto s = shared.dense_arrays();
    const auto v = view.dense_arrays();
    for (int a = 0; a < Model::kDenseArrays; ++a) {
      const std::size_t n = v[a]->size();
      const std::size_t stripes = (n + kMergeStripe - 1) / kMergeStripe;
      for (std::size_t k = 0; k < stripes; ++k) {
        const std::size_t stripe = (k + static_cast<std::size_t>(tid_)) % stripes;
        const std::size_t i0 = stripe * kMergeStripe, i1 = std::min(n, i0 + kMergeStripe);
        float* sp = s[a]->data();
        float* vp = v[a]->data();
        float* bp = base_[a].data();
        std::lock_guard<std::mutex> lock(locks.at(a, stripe));
        for (std::size_t i = i0; i < i1; ++i) {
          const float now = sp[i] + (vp[i] - bp[i]);
          sp[i] = now;
          vp[i] = now;
          bp[i] = now;
        }
      }
    }
  }
  // After the shared model changed outside a run (the view was merged before): the view and
  // its base take the shared values.
  void rebase(Model& shared, Model& view) {
    const auto s = shared.dense_arrays();
    const auto v = view.dense_arrays();
    for (int a = 0; a < Model::kDenseArrays; ++a) {
      std::copy(s[a]->begin(), s[a]->end(), v[a]->begin());
      std::copy(s[a]->begin(), s[a]->end(), base_[a].begin());
    }
  }

 private:
  WeightArray base_[Model::kDenseArrays];
  int tid_;
};

using Clock = std::chrono::steady_clock;

// Per-thread tallies the calling thread reads for progress; one cache line each.
struct alignas(64) Tally {
  std::atomic<std::int64_t> processed{0};
  std::atomic<std::int64_t> words{0};
  std::atomic<double> logprob{0};
};

}  // namespace

// One thread's shard of sentences [first, last) = positions [begin, end), its position k in
// it, and its state.
struct EpochRun::Shard {
  int tid = 0;
  std::int64_t sentence = 0, begin = 0, end = 0, k = 0;
  std::unique_ptr<Model> view;       // with several threads: private dense weights
  std::unique_ptr<DenseSync> sync;
  std::unique_ptr<BpttStream> stream;
  // With streams > 1: the lanes, and each lane's part of the shard and position in it.
  std::unique_ptr<BatchedStreams> lanes;
  std::vector<std::int64_t> lane_sentence, lane_begin, lane_end, lane_k;
  std::int64_t lane_steps = 0;  // lockstep steps taken
  std::int64_t processed = 0;
  double logprob = 0;
  std::int64_t words = 0;
  Tally tally;
  Clock::time_point last_report;  // of the reporting thread's last progress call
};

struct EpochRun::Shared {
  explicit Shared(Model& m) : locks(m) {}
  MergeLocks locks;
  std::atomic<bool> stop{false};
  std::atomic<bool> diverged{false};
  std::atomic<bool> interrupted{false};
  std::atomic<std::int64_t> diverged_at{-1};
};

EpochRun::EpochRun(Model& m, const std::int32_t* ids, const std::int64_t* offsets, std::int64_t n_sentences,
                   const TrainOptions& o, double* position_logprob, UpdateMarks* marks)
    : m_(m), ids_(ids), offsets_(offsets), o_(o), position_logprob_(position_logprob), marks_(marks) {
  o.validate();
  if (marks != nullptr && !marks->made_for(m)) {
    throw ConfigError("marks were made for a model of other sizes");
  }
  threads_ = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(o.threads, n_sentences)));
  const auto bounds = shard_sentences(offsets, n_sentences, threads_);
  for (int t = 0; t < threads_; ++t) {
    auto s = std::make_unique<Shard>();
    s->tid = t;
    s->sentence = bounds[static_cast<std::size_t>(t)];
    s->begin = s->k = offsets[bounds[static_cast<std::size_t>(t)]];
    s->end = offsets[bounds[static_cast<std::size_t>(t) + 1]];
    shards_.push_back(std::move(s));
  }
  shared_ = std::make_unique<Shared>(m);
}

EpochRun::~EpochRun() = default;

bool EpochRun::finished() const {
  if (stopped_) return true;
  return std::all_of(shards_.begin(), shards_.end(), [](const auto& s) { return s->k >= s->end; });
}

std::int64_t EpochRun::positions() const { return shards_.back()->end - shards_.front()->begin; }

void EpochRun::run_shard(Shard& s, std::int64_t until, std::int64_t part, std::int64_t parts, bool reports,
                         const TrainProgress& progress) {
  if (o_.streams > 1) {
    run_lanes(s, part, parts, reports, progress);
    return;
  }
  // One thread trains the shared model directly (bit-reproducible); several threads each
  // train a view with private dense weights, merged every kDenseSyncWords words.
  if (!s.stream) {
    if (threads_ > 1) {
      s.view = std::make_unique<Model>(m_.thread_view());
      s.sync = std::make_unique<DenseSync>(*s.view, s.tid);
    }
    s.stream = std::make_unique<BpttStream>(s.view ? *s.view : m_, o_, s.tid, marks_);
  } else if (s.sync) {
    s.sync->rebase(m_, *s.view);
  }
  Model& w = s.view ? *s.view : m_;
  Shared& sh = *shared_;
  s.last_report = Clock::now();
  std::int64_t k = s.k;
  const std::int64_t begin = s.begin;
  for (; k < until; ++k) {
    if (sh.stop.load(std::memory_order_relaxed)) break;
    while (offsets_[s.sentence + 1] <= k) ++s.sentence;
    const bool sentence_end = k + 1 == offsets_[s.sentence + 1];
    const std::int32_t in = k == begin ? 0 : ids_[k - 1];
    const std::int32_t target = ids_[k];
    const double lp = s.stream->step(w, w, in, target, sentence_end);
    if (position_logprob_) position_logprob_[k] = lp;  // 0 when the target is not scored
    if (s.sync && (k - begin + 1) % kDenseSyncWords == 0) s.sync->merge(m_, w, sh.locks);
    if (target >= 0) {
      if (!std::isfinite(lp)) {
        diverge(k);
        break;
      }
      s.logprob += lp;
      ++s.words;
    }
    if (o_.independent && sentence_end) s.stream->reset();
    if (((k - begin + 1) & 255) == 0) publish(s, k - begin + 1, reports, progress);
  }
  s.k = k;
  if (s.sync) s.sync->merge(m_, w, sh.locks);
  publish(s, k - begin, false, progress);
}

// B streams per thread: the shard split into B contiguous parts of about equal word counts,
// one per lane, all advanced one position per step (batch_trainer.h). A part of the epoch
// runs each lane to the same fraction of its own part.
void EpochRun::run_lanes(Shard& s, std::int64_t part, std::int64_t parts, bool reports,
                         const TrainProgress& progress) {
  const int B = o_.streams;
  if (!s.lanes) {
    if (threads_ > 1) {
      s.view = std::make_unique<Model>(m_.thread_view());
      s.sync = std::make_unique<DenseSync>(*s.view, s.tid);
    }
    const std::int64_t first = s.sentence;
    std::int64_t last = first;
    while (offsets_[last] < s.end) ++last;
    const auto bounds = shard_sentences(offsets_ + first, last - first, B);
    for (int b = 0; b < B; ++b) {
      s.lane_sentence.push_back(first + bounds[static_cast<std::size_t>(b)]);
      s.lane_begin.push_back(offsets_[first + bounds[static_cast<std::size_t>(b)]]);
      s.lane_end.push_back(offsets_[first + bounds[static_cast<std::size_t>(b) + 1]]);
    }
    s.lane_k = s.lane_begin;
    s.lanes = std::make_unique<BatchedStreams>(s.view ? *s.view : m_, o_, B, s.tid, threads_, marks_);
  } else if (s.sync) {
    s.sync->rebase(m_, *s.view);
  }
  Model& w = s.view ? *s.view : m_;
  Shared& sh = *shared_;
  // A part runs the lanes in lockstep to a fraction of the longest lane's steps, so an epoch
  // in parts takes exactly the steps of one call (lanes that finish go idle either way).
  std::int64_t longest = 0;
  for (int b = 0; b < B; ++b) longest = std::max(longest, s.lane_end[b] - s.lane_begin[b]);
  const __int128 steps = static_cast<__int128>(longest) * part;
  const std::int64_t until_step = static_cast<std::int64_t>((steps + parts - 1) / parts);
  std::vector<std::int32_t> in(B), target(B);
  std::vector<std::uint8_t> sentence_end(B), active(B);
  std::vector<double> lp(B);
  std::int64_t since_merge = 0, since_report = 0;
  s.last_report = Clock::now();
  for (; s.lane_steps < until_step; ++s.lane_steps) {
    if (sh.stop.load(std::memory_order_relaxed)) break;
    int n_active = 0;
    for (int b = 0; b < B; ++b) {
      const std::int64_t k = s.lane_k[b];
      active[b] = k < s.lane_end[b];
      if (!active[b]) continue;
      ++n_active;
      while (offsets_[s.lane_sentence[b] + 1] <= k) ++s.lane_sentence[b];
      sentence_end[b] = k + 1 == offsets_[s.lane_sentence[b] + 1];
      in[b] = k == s.lane_begin[b] ? 0 : ids_[k - 1];
      target[b] = ids_[k];
    }
    if (n_active == 0) break;
    s.lanes->step(w, w, in.data(), target.data(), sentence_end.data(), active.data(), lp.data());
    for (int b = 0; b < B; ++b) {
      if (!active[b]) continue;
      if (target[b] >= 0) {
        if (!std::isfinite(lp[b])) diverge(s.lane_k[b]);
        s.logprob += lp[b];
        ++s.words;
      }
      if (o_.independent && sentence_end[b]) s.lanes->reset(b);
      ++s.lane_k[b];
    }
    s.processed += n_active;
    since_merge += n_active;
    since_report += n_active;
    if (s.sync && since_merge >= kDenseSyncWords) {
      s.sync->merge(m_, w, sh.locks);
      since_merge = 0;
    }
    if (since_report >= 256) {
      since_report = 0;
      publish(s, s.processed, reports, progress);
    }
  }
  bool done = true;
  for (int b = 0; b < B; ++b) done = done && s.lane_k[b] >= s.lane_end[b];
  if (done) s.k = s.end;
  if (s.sync) s.sync->merge(m_, w, sh.locks);
  publish(s, s.processed, false, progress);
}

void EpochRun::publish(Shard& s, std::int64_t processed, bool reports, const TrainProgress& progress) {
  s.tally.processed.store(processed, std::memory_order_relaxed);
  s.tally.words.store(s.words, std::memory_order_relaxed);
  s.tally.logprob.store(s.logprob, std::memory_order_relaxed);
  if (!reports || !progress || Clock::now() - s.last_report <= std::chrono::milliseconds(200)) return;
  s.last_report = Clock::now();
  std::int64_t done = 0;
  double lp_sum = 0;
  for (auto& t : shards_) {
    done += t->tally.processed.load(std::memory_order_relaxed);
    lp_sum += t->tally.logprob.load(std::memory_order_relaxed);
  }
  if (!progress(done, lp_sum)) {
    shared_->interrupted.store(true);
    shared_->stop.store(true);
  }
}

void EpochRun::diverge(std::int64_t k) {
  shared_->diverged.store(true);
  std::int64_t expected = -1;
  shared_->diverged_at.compare_exchange_strong(expected, k);
  shared_->stop.store(true);
}

EpochStats EpochRun::run(std::int64_t part, std::int64_t parts, const TrainProgress& progress) {
  if (parts < 1 || part < 1 || part > parts) throw ConfigError("part must be in 1..parts");
  if (stopped_) return totals_;
  Shared& sh = *shared_;
  auto until = [&](const Shard& s) {
    const __int128 length = s.end - s.begin;
    return s.begin + static_cast<std::int64_t>((length * part + parts - 1) / parts);
  };
  // One shard per part; the team's first thread reports progress for all (the runtime may grant
  // fewer threads than asked: every shard still runs). An error stops the other shards too.
  try {
    run_parts(threads_, [&](int t) {
      try {
        Shard& s = *shards_[static_cast<std::size_t>(t)];
        run_shard(s, until(s), part, parts, team_thread() == 0, progress);
      } catch (...) {
        sh.stop.store(true);
        throw;
      }
    });
  } catch (...) {
    stopped_ = true;
    throw;
  }
  EpochStats stats;
  for (auto& s : shards_) {
    stats.processed += s->tally.processed.load();
    stats.words += s->tally.words.load();
    stats.logprob += s->tally.logprob.load();
  }
  stats.diverged = sh.diverged.load();
  stats.diverged_at = sh.diverged_at.load();
  stats.interrupted = sh.interrupted.load();
  stopped_ = stats.diverged || stats.interrupted;
  totals_ = stats;
  return stats;
}

}  // namespace rnnlm
