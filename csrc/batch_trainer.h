// Training with B independent streams per thread advanced in lockstep (--streams B): the
// recurrent step, the class layer, the BPTT sweep and the weight updates become matrix-matrix
// products over the streams (each weight read once for B words instead of once per word);
// the word layer is grouped by target class (batch_output.h). Each stream keeps its own
// state, history, dropout masks and BPTT schedule, exactly as a BpttStream would.
//
// Learning rate: each stream's gradient is applied with `lr` as one word's would be, i.e.
// the B gradients of a step are summed (not averaged), so lr keeps its per-word meaning
// and the rnnlm-0.4b schedule needs no retuning; the L2 decay keeps its per-word rate too.
#pragma once

#include <cstdint>
#include <vector>

#include "batch_output.h"
#include "direct.h"
#include "rnn.h"
#include "trainer.h"
#include "update_marks.h"

namespace rnnlm {

class BatchedStreams {
 public:
  // `streams` lanes; lane b draws its dropout masks from stream id first_id + b * id_stride
  // (lane 0 of thread t is stream t, as in one-stream training). With `marks`, the sparse
  // weights each step writes are marked there (it must outlive the lanes).
  BatchedStreams(const Model& m, const TrainOptions& o, int streams, int first_id, int id_stride,
                 UpdateMarks* marks = nullptr);
  int size() const { return streams_; }
  // Lane b back to the reset state; forgets its history.
  void reset(int b);
  // One step of every lane with active[b]: the transition in[b] -> target[b] (target < 0:
  // not scored). lp[b] = ln P(target) (0 when not scored). sentence_end[b]: the target closes
  // a sentence (with `independent`, the lane's BPTT runs now, before its reset). Reads the
  // weights of `m`, applies the updates to `dst` (the same model when training).
  void step(const Model& m, Model& dst, const std::int32_t* in, const std::int32_t* target,
            const std::uint8_t* sentence_end, const std::uint8_t* active, double* lp);

 private:
  std::size_t slot(std::int64_t t) const { return static_cast<std::size_t>((t + 1) % capacity_); }
  float* h_at(std::int64_t t, int b) { return hist_h_.data() + (slot(t) * streams_ + b) * H_; }
  float* c_at(std::int64_t t, int b) {
    return hist_c_.empty() ? nullptr : hist_c_.data() + (slot(t) * streams_ + b) * H_;
  }
  float* e_at(std::int64_t t, int b) { return hist_e_.data() + (slot(t) * streams_ + b) * H_; }
  StepState state_at(std::int64_t t, int b);
  // BPTT for the lanes with due[b], over their last min(max_steps, steps since reset) steps.
  void backprop_through_time(const Model& m, Model& dst, const std::uint8_t* due, float keep);

  TrainOptions o_;
  UpdateMarks* marks_;
  int streams_;
  std::size_t H_;
  int gates_;
  int max_steps_;
  std::int64_t capacity_;
  float reset_value_;
  std::int64_t t_ = 0;                  // steps taken (the slot of the next one)
  std::int64_t words_ = 0;              // scored words, for the L2 decay's every-10th-word rate
  std::vector<std::int64_t> n_;         // per lane: steps since its reset
  std::vector<float> hist_h_, hist_c_, hist_gates_, hist_un_, hist_tc_, hist_e_;  // [slot][lane][...]
  std::vector<std::int32_t> hist_in_;  // [slot][lane]
  std::vector<NgramHistory> ngram_;
  std::vector<Rng> rng_;
  std::vector<float> u_;                      // lanes x G*H recurrent products
  std::vector<float> drop_mask_, drop_h_;     // lanes x H
  std::vector<const float*> h_rows_;
  std::vector<float*> e_rows_;
  std::vector<std::int32_t> targets_;
  std::vector<const std::int32_t*> histories_;
  std::vector<int> scored_;
  std::vector<double> lp_;
  BatchOutputScratch out_;
  // BPTT sweep buffers: per (step, lane) rows, compacted to the lanes taking part.
  std::vector<float> d_u_, d_x_, x_, e_, e_prev_, dh_direct_, dc_, dc_prev_;
  std::vector<int> row_of_;  // [step][lane] -> row in d_u_/d_x_/x_, or -1
  std::vector<int> part_;    // lanes taking part in the current sweep step
  std::vector<std::uint8_t> due_;  // per lane: its BPTT runs after this step
};

// The summed gradient of ln P over `n_sentences` sentences scored side by side, one per lane,
// with full BPTT from the reset state (as sentence_gradient for each): the check that batching
// adds the per-sentence gradients and nothing else. sentences[i] = ids[offsets[i] ..
// offsets[i+1]). Throws ConfigError outside 1..kMaxStreams sentences, for an empty sentence or
// one over kMaxGradientWords words.
Model batch_gradient(const Model& m, const std::int32_t* ids, const std::int64_t* offsets,
                     std::int64_t n_sentences);

}  // namespace rnnlm
