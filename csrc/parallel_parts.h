// Work cut into `parts` pieces run in one OpenMP region: block training (block_trainer.h) cuts each
// phase of a block into pieces fixed by the sizes alone (so a thread count gives one arithmetic
// order); online training (epoch_run.h) runs one shard per piece. One part runs on the calling
// thread with no region at all.
#pragma once

#include <exception>
#include <mutex>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace rnnlm {

// [begin, end): a contiguous piece of some index range.
struct PartRange {
  int begin = 0, end = 0;
  int size() const { return end - begin; }
};

// Part p of [0, n) cut into `parts` contiguous pieces as even as can be (the first n % parts get
// one more); empty pieces where n < parts.
inline PartRange split_range(int n, int parts, int p) {
  const int q = n / parts, extra = n % parts;
  const int begin = p * q + (p < extra ? p : extra);
  return {begin, begin + q + (p < extra ? 1 : 0)};
}

// The calling thread's number in the OpenMP team running it (0 outside any region): the part
// callbacks of run_parts use it to give one job, such as reporting progress, to one thread.
inline int team_thread() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Calls f(p) once for every part p in [0, parts): parts == 1 on the calling thread, otherwise in
// one `#pragma omp parallel num_threads(parts)` region (a runtime granting fewer threads still
// runs every part). f's calls for distinct parts must write disjoint memory. The first exception
// thrown by any part is rethrown after the region (none leaves it); the other parts run on.
template <class F>
void run_parts(int parts, F&& f) {
  if (parts == 1) {
    f(0);
    return;
  }
  std::exception_ptr error;
  std::mutex error_mutex;
#pragma omp parallel num_threads(parts)
  {
    int tid = 0, team = 1;
#ifdef _OPENMP
    tid = omp_get_thread_num();
    team = omp_get_num_threads();
#endif
    for (int p = tid; p < parts; p += team) {
      try {
        f(p);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace rnnlm
