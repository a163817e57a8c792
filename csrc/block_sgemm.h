// The products of block training (block_trainer.h, block_output.h) go through block_sgemm:
// blas::sgemm, timed per thread, and recordable for the profile binding's replay.
#pragma once

#include <vector>

namespace rnnlm {

// blas::sgemm, timed: the seconds spent in it on this thread accumulate in block_sgemm_seconds()
// (the block trainer reports the calling thread's share of its time outside the products).
void block_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
double& block_sgemm_seconds();

// Profiling: the shapes of the block_sgemm calls made on this thread while recording, and
// the same calls replayed alone on scratch operands (returns their seconds; `flops` gets
// 2 m n k summed). Not for production paths.
struct GemmShape {
  bool trans_a, trans_b;
  int m, n, k, lda, ldb, ldc;
  float beta;
};
void block_sgemm_record(std::vector<GemmShape>* into);  // nullptr: stop recording
double block_sgemm_replay(const std::vector<GemmShape>& calls, double* flops);

}  // namespace rnnlm
