#include "class_softmax.h"

#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace rnnlm {

void add_direct_class_logits(const Model& m, const std::int32_t* history, DirectFeatures& f, float* z) {
  f.class_count = 0;
  if (m.direct_order() == 0 || history == nullptr) return;
  const int C = m.n_classes();
  direct_class_features(m.direct_hash(), history, m.direct_order(), m.direct_size(), C, f);
  for (int a = 0; a < f.class_count; ++a) {
    const float* w = m.direct.data() + f.class_start[static_cast<std::size_t>(a)];
    for (int c = 0; c < C; ++c) z[c] += w[c];
  }
}

void add_direct_word_logits(const Model& m, const std::int32_t* history, std::int32_t c, DirectFeatures& f,
                            float* z) {
  f.word_count = 0;
  if (m.direct_order() == 0 || history == nullptr) return;
  const int n = m.class_begin()[c + 1] - m.class_begin()[c];
  direct_word_features(m.direct_hash(), history, m.direct_order(), m.direct_size(), c, f);
  for_word_features(f, n, m.direct_size(), [&](std::size_t i, int j) { z[j] += m.direct[i]; });
}

void update_direct(const Model& m, Model& dst, const DirectFeatures& f, std::int32_t c, const float* gc,
                   const float* gw, float lr, float direct_keep) {
  // Sparse: only the weights this step used.
  const int C = m.n_classes();
  const int n = m.class_begin()[c + 1] - m.class_begin()[c];
  for (int a = 0; a < f.class_count; ++a) {
    float* w = dst.direct.data() + f.class_start[static_cast<std::size_t>(a)];
    scale_axpy(w, C, direct_keep, lr, gc);
  }
  for_word_features(f, n, m.direct_size(), [&](std::size_t i, int j) {
    float& w = dst.direct[i];
    w = direct_keep * w + lr * gw[j];
  });
}

void mark_output_updates(const Model& m, const DirectFeatures& f, std::int32_t c, UpdateMarks& marks) {
  marks.word_class(c);
  for (int a = 0; a < f.class_count; ++a) {
    marks.direct_range(f.class_start[static_cast<std::size_t>(a)], static_cast<std::uint64_t>(m.n_classes()));
  }
  // Word features: the indices the hash scheme gives, in runs of consecutive weights.
  const int n = m.class_begin()[c + 1] - m.class_begin()[c];
  std::uint64_t run_start = 0, run_length = 0;
  for_word_features(f, n, m.direct_size(), [&](std::size_t i, int) {
    if (run_length > 0 && i == run_start + run_length) {
      ++run_length;
      return;
    }
    if (run_length > 0) marks.direct_range(run_start, run_length);
    run_start = i;
    run_length = 1;
  });
  if (run_length > 0) marks.direct_range(run_start, run_length);
}

namespace {
// Class logits (with direct-connection features) into s.class_p; with `precomputed`, s.class_p
// already holds class_w * h (from a batched product) and only the bias is added.
void class_logits(const Model& m, const float* h, const std::int32_t* history, OutputScratch& s,
                  bool precomputed = false) {
  const int C = m.n_classes();
  if (precomputed) {
    for (int c = 0; c < C; ++c) s.class_p[c] += m.class_b[c];
  } else {
    matvec(m.class_w.data(), C, m.hidden(), h, m.class_b.data(), s.class_p.data());
  }
  add_direct_class_logits(m, history, s.features, s.class_p.data());
}

// Word logits of class c (with direct-connection features) into z[0 .. n).
void word_logits(const Model& m, const float* h, std::int32_t c, const std::int32_t* history,
                 OutputScratch& s, float* z) {
  const std::int32_t b = m.class_begin()[c];
  const int n = m.class_begin()[c + 1] - b;
  matvec(m.word_w.data() + static_cast<std::size_t>(b) * m.hidden(), n, m.hidden(), h, m.word_b.data() + b, z);
  add_direct_word_logits(m, history, c, s.features, z);
}

}  // namespace

double output_forward(const Model& m, const float* h, std::int32_t target, const std::int32_t* history,
                      OutputScratch& s, bool class_products_ready) {
  const std::int32_t c = m.word_class()[target];
  const std::int32_t b = m.class_begin()[c];
  const int n = m.class_begin()[c + 1] - b;
  class_logits(m, h, history, s, class_products_ready);
  const double class_logit = s.class_p[c];
  const double class_norm = softmax(s.class_p.data(), m.n_classes());
  word_logits(m, h, c, history, s, s.word_p.data());
  const double word_logit = s.word_p[target - b];
  const double word_norm = softmax(s.word_p.data(), n);
  return (class_logit - class_norm) + (word_logit - word_norm);
}

void output_backward_update(const Model& m, Model& dst, const float* h, std::int32_t target,
                            OutputScratch& s, float lr, float keep, float direct_keep, float* e_h,
                            UpdateMarks* marks) {
  const int H = m.hidden();
  const int C = m.n_classes();
  const std::int32_t c = m.word_class()[target];
  const std::int32_t b = m.class_begin()[c];
  const int n = m.class_begin()[c + 1] - b;
  // Gradients of ln P with respect to the logits: one-hot minus probabilities.
  float* gw = s.word_p.data();
  for (int i = 0; i < n; ++i) gw[i] = -gw[i];
  gw[target - b] += 1.0f;
  float* gc = s.class_p.data();
  for (int i = 0; i < C; ++i) gc[i] = -gc[i];
  gc[c] += 1.0f;
  const std::size_t rows = static_cast<std::size_t>(b) * H;
  backprop_update_rows(m.word_w.data() + rows, dst.word_w.data() + rows, n, H, gw, lr, keep, h, e_h);
  scale_axpy(dst.word_b.data() + b, n, 1.0f, lr, gw);
  backprop_update_rows(m.class_w.data(), dst.class_w.data(), C, H, gc, lr, keep, h, e_h);
  scale_axpy(dst.class_b.data(), C, 1.0f, lr, gc);
  update_direct(m, dst, s.features, c, gc, gw, lr, direct_keep);
  if (marks != nullptr) mark_output_updates(m, s.features, c, *marks);
}

void output_distribution(const Model& m, const float* h, const std::int32_t* history, OutputScratch& s,
                         float* out) {
  const int C = m.n_classes();
  class_logits(m, h, history, s);
  softmax(s.class_p.data(), C);
  for (int c = 0; c < C; ++c) {
    const std::int32_t b = m.class_begin()[c];
    const int n = m.class_begin()[c + 1] - b;
    float* z = out + b;
    word_logits(m, h, c, history, s, z);
    softmax(z, n);
    for (int i = 0; i < n; ++i) z[i] *= s.class_p[c];
  }
}

std::int32_t output_sample(const Model& m, const float* h, const std::int32_t* history, OutputScratch& s,
                           float temperature, double u1, double u2) {
  const int C = m.n_classes();
  class_logits(m, h, history, s);
  for (int i = 0; i < C; ++i) s.class_p[i] /= temperature;
  softmax(s.class_p.data(), C);
  int c = 0;
  double acc = 0;
  for (; c < C - 1; ++c) {
    acc += s.class_p[c];
    if (u1 < acc) break;
  }
  const std::int32_t b = m.class_begin()[c];
  const int n = m.class_begin()[c + 1] - b;
  word_logits(m, h, c, history, s, s.word_p.data());
  for (int i = 0; i < n; ++i) s.word_p[i] /= temperature;
  softmax(s.word_p.data(), n);
  int j = 0;
  acc = 0;
  for (; j < n - 1; ++j) {
    acc += s.word_p[j];
    if (u2 < acc) break;
  }
  return b + j;
}

}  // namespace rnnlm
