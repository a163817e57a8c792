#include "class_softmax.h"

#include "kernels.h"

namespace rnnlm {

double output_forward(const Model& m, const float* h, std::int32_t target, OutputScratch& s) {
  const int H = m.hidden();
  const int C = m.n_classes();
  const std::int32_t c = m.word_class()[target];
  const std::int32_t b = m.class_begin()[c];
  const int n = m.class_begin()[c + 1] - b;
  matvec(m.class_w.data(), C, H, h, m.class_b.data(), s.class_p.data());
  const double class_logit = s.class_p[c];
  const double class_norm = softmax(s.class_p.data(), C);
  matvec(m.word_w.data() + static_cast<std::size_t>(b) * H, n, H, h, m.word_b.data() + b,
         s.word_p.data());
  const double word_logit = s.word_p[target - b];
  const double word_norm = softmax(s.word_p.data(), n);
  return (class_logit - class_norm) + (word_logit - word_norm);
}

void output_backward_update(const Model& m, Model& dst, const float* h, std::int32_t target,
                            OutputScratch& s, float lr, float keep, float* e_h) {
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
}

void output_distribution(const Model& m, const float* h, OutputScratch& s, float* out) {
  const int H = m.hidden();
  const int C = m.n_classes();
  matvec(m.class_w.data(), C, H, h, m.class_b.data(), s.class_p.data());
  softmax(s.class_p.data(), C);
  for (int c = 0; c < C; ++c) {
    const std::int32_t b = m.class_begin()[c];
    const int n = m.class_begin()[c + 1] - b;
    float* z = out + b;
    matvec(m.word_w.data() + static_cast<std::size_t>(b) * H, n, H, h, m.word_b.data() + b, z);
    softmax(z, n);
    for (int i = 0; i < n; ++i) z[i] *= s.class_p[c];
  }
}

}  // namespace rnnlm
