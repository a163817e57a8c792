// One training epoch run in parts: one OpenMP region per part, each thread streaming its own
// contiguous shard of sentences with its own state (Hogwild). The streams' state (hidden
// history, BPTT buffers, dropout generator, word counters) and each thread's position are kept
// between parts, so an epoch run in parts computes what one call computes (with one thread,
// bit for bit), while the caller may change the shared weights between parts: distributed
// training averages them across processes there.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "trainer.h"
#include "update_marks.h"

namespace rnnlm {

class EpochRun {
 public:
  // Sentence i is ids[offsets[i] .. offsets[i+1]), checked by the caller; `m`, the arrays,
  // `position_logprob` (as train_epoch's) and `marks` (sparse writes are marked there) must
  // outlive the run. Throws ConfigError when `o` fails validate() or `marks` do not fit `m`.
  EpochRun(Model& m, const std::int32_t* ids, const std::int64_t* offsets, std::int64_t n_sentences,
           const TrainOptions& o, double* position_logprob = nullptr, UpdateMarks* marks = nullptr);
  ~EpochRun();
  EpochRun(const EpochRun&) = delete;
  EpochRun& operator=(const EpochRun&) = delete;

  // Runs every thread until it has processed ceil(part / parts) of its shard's positions
  // (1 <= part <= parts; parts fixed for the run), then merges the threads' private dense
  // weights into the model. Returns the totals since the epoch began. After divergence or an
  // interruption further calls do nothing. Engine errors of a worker are rethrown here.
  EpochStats run(std::int64_t part, std::int64_t parts, const TrainProgress& progress);
  // Every shard done (or the run stopped).
  bool finished() const;
  // Positions of the whole corpus.
  std::int64_t positions() const;

 private:
  struct Shard;
  void run_shard(Shard& s, std::int64_t until, std::int64_t part, std::int64_t parts, bool reports,
                 const TrainProgress& progress);
  void run_lanes(Shard& s, std::int64_t part, std::int64_t parts, bool reports, const TrainProgress& progress);
  // Stores the shard's tallies (`processed` positions so far) for the reporting thread; with
  // `reports`, at most every 200 ms, passes the totals of all shards to `progress` and stops
  // the run when it returns false.
  void publish(Shard& s, std::int64_t processed, bool reports, const TrainProgress& progress);
  // Stops the run on a non-finite probability, keeping the first position `k` reported.
  void diverge(std::int64_t k);

  Model& m_;
  const std::int32_t* ids_;
  const std::int64_t* offsets_;
  TrainOptions o_;
  double* position_logprob_;
  UpdateMarks* marks_;
  int threads_;
  std::vector<std::unique_ptr<Shard>> shards_;
  struct Shared;
  std::unique_ptr<Shared> shared_;
  bool stopped_ = false;
  EpochStats totals_;
};

}  // namespace rnnlm
