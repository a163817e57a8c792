#include "batch_output.h"

#include <algorithm>
#include <cstring>

#include "class_softmax.h"
#include "kernels.h"

namespace rnnlm {

BatchOutputScratch::BatchOutputScratch(const Model& m, int rows)
    : capacity(rows),
      order(static_cast<std::size_t>(rows)),
      h(static_cast<std::size_t>(rows) * m.hidden()),
      class_z(static_cast<std::size_t>(rows) * m.n_classes()),
      word_z(static_cast<std::size_t>(rows) * m.max_class_size()),
      e(static_cast<std::size_t>(rows) * m.hidden()),
      features(static_cast<std::size_t>(rows)) {
  groups.reserve(static_cast<std::size_t>(rows) + 1);
}

void batch_output_forward(const Model& m, int n, const float* const* h_rows, const std::int32_t* targets,
                          const std::int32_t* const* histories, BatchOutputScratch& s, double* lp) {
  const int H = m.hidden(), C = m.n_classes(), S = m.max_class_size();
  const auto& word_class = m.word_class();
  for (int i = 0; i < n; ++i) s.order[static_cast<std::size_t>(i)] = i;
  std::stable_sort(s.order.begin(), s.order.begin() + n,
                   [&](int a, int b) { return word_class[targets[a]] < word_class[targets[b]]; });
  for (int i = 0; i < n; ++i) {
    std::memcpy(s.h.data() + static_cast<std::size_t>(i) * H, h_rows[s.order[static_cast<std::size_t>(i)]],
                sizeof(float) * H);
  }
  // The class layer: one product for the whole batch.
  matmul_nt(m.class_w.data(), C, H, s.h.data(), n, s.class_z.data());
  s.groups.clear();
  for (int i = 0; i < n; ++i) {
    const int row = s.order[static_cast<std::size_t>(i)];
    const std::int32_t c = word_class[targets[row]];
    if (i == 0 || c != word_class[targets[s.order[static_cast<std::size_t>(i - 1)]]]) s.groups.push_back(i);
    float* z = s.class_z.data() + static_cast<std::size_t>(i) * C;
    for (int k = 0; k < C; ++k) z[k] += m.class_b[k];
    add_direct_class_logits(m, histories[row], s.features[static_cast<std::size_t>(i)], z);
    const double logit = z[c];
    lp[row] = logit - softmax(z, C);
  }
  s.groups.push_back(n);
  // The word layer: one product per class present, over the rows predicting it.
  for (std::size_t g = 0; g + 1 < s.groups.size(); ++g) {
    const int i0 = static_cast<int>(s.groups[g]), i1 = static_cast<int>(s.groups[g + 1]);
    const std::int32_t c = word_class[targets[s.order[static_cast<std::size_t>(i0)]]];
    const std::int32_t b = m.class_begin()[c];
    const int nc = m.class_begin()[c + 1] - b;
    float* zg = s.word_z.data() + static_cast<std::size_t>(i0) * S;  // (i1 - i0) x nc, packed
    matmul_nt(m.word_w.data() + static_cast<std::size_t>(b) * H, nc, H, s.h.data() + static_cast<std::size_t>(i0) * H,
              i1 - i0, zg);  // one row: the same arithmetic as matvec
    for (int i = i0; i < i1; ++i) {
      const int row = s.order[static_cast<std::size_t>(i)];
      float* z = zg + static_cast<std::size_t>(i - i0) * nc;
      for (int k = 0; k < nc; ++k) z[k] += m.word_b[b + k];
      add_direct_word_logits(m, histories[row], c, s.features[static_cast<std::size_t>(i)], z);
      const double logit = z[targets[row] - b];
      lp[row] += logit - softmax(z, nc);
    }
  }
}

void batch_output_backward(const Model& m, Model& dst, int n, const std::int32_t* targets, BatchOutputScratch& s,
                           float lr, float keep, float direct_keep, float* const* e_rows, UpdateMarks* marks) {
  const int H = m.hidden(), C = m.n_classes(), S = m.max_class_size();
  const auto& word_class = m.word_class();
  // Gradients of ln P with respect to the logits: one-hot minus probabilities.
  for (int i = 0; i < n; ++i) {
    float* g = s.class_z.data() + static_cast<std::size_t>(i) * C;
    for (int k = 0; k < C; ++k) g[k] = -g[k];
    g[word_class[targets[s.order[static_cast<std::size_t>(i)]]]] += 1.0f;
  }
  for (std::size_t gi = 0; gi + 1 < s.groups.size(); ++gi) {
    const int i0 = static_cast<int>(s.groups[gi]), i1 = static_cast<int>(s.groups[gi + 1]);
    const std::int32_t c = word_class[targets[s.order[static_cast<std::size_t>(i0)]]];
    const std::int32_t b = m.class_begin()[c];
    const int nc = m.class_begin()[c + 1] - b;
    float* zg = s.word_z.data() + static_cast<std::size_t>(i0) * S;
    for (int i = i0; i < i1; ++i) {
      float* g = zg + static_cast<std::size_t>(i - i0) * nc;
      for (int k = 0; k < nc; ++k) g[k] = -g[k];
      g[targets[s.order[static_cast<std::size_t>(i)]] - b] += 1.0f;
    }
  }
  // Errors to the hidden layer through the weights before they move. A class predicted by
  // one row only gets the fused one-pass kernel of one-stream training (errors and update
  // in one sweep over its rows); shared classes get a product and a rank-k update.
  matmul_nn(s.class_z.data(), n, C, m.class_w.data(), H, s.e.data(), false);
  for (std::size_t gi = 0; gi + 1 < s.groups.size(); ++gi) {
    const int i0 = static_cast<int>(s.groups[gi]), i1 = static_cast<int>(s.groups[gi + 1]);
    const std::int32_t c = word_class[targets[s.order[static_cast<std::size_t>(i0)]]];
    const std::int32_t b = m.class_begin()[c];
    const int nc = m.class_begin()[c + 1] - b;
    const std::size_t rows = static_cast<std::size_t>(b) * H;
    float* zg = s.word_z.data() + static_cast<std::size_t>(i0) * S;
    if (i1 - i0 == 1) {
      backprop_update_rows(m.word_w.data() + rows, dst.word_w.data() + rows, nc, H, zg, lr, keep,
                           s.h.data() + static_cast<std::size_t>(i0) * H, s.e.data() + static_cast<std::size_t>(i0) * H);
    } else {
      matmul_nn(zg, i1 - i0, nc, m.word_w.data() + rows, H, s.e.data() + static_cast<std::size_t>(i0) * H, true);
    }
  }
  for (int i = 0; i < n; ++i) {
    std::memcpy(e_rows[s.order[static_cast<std::size_t>(i)]], s.e.data() + static_cast<std::size_t>(i) * H,
                sizeof(float) * H);
  }
  // Updates: the class layer and each used class's word rows by one rank-k pass.
  rank_k_update(dst.class_w.data(), C, H, s.class_z.data(), s.h.data(), n, lr, keep);
  for (int i = 0; i < n; ++i) scale_axpy(dst.class_b.data(), C, 1.0f, lr, s.class_z.data() + static_cast<std::size_t>(i) * C);
  for (std::size_t gi = 0; gi + 1 < s.groups.size(); ++gi) {
    const int i0 = static_cast<int>(s.groups[gi]), i1 = static_cast<int>(s.groups[gi + 1]);
    const std::int32_t c = word_class[targets[s.order[static_cast<std::size_t>(i0)]]];
    const std::int32_t b = m.class_begin()[c];
    const int nc = m.class_begin()[c + 1] - b;
    const float* zg = s.word_z.data() + static_cast<std::size_t>(i0) * S;
    if (i1 - i0 > 1) {
      rank_k_update(dst.word_w.data() + static_cast<std::size_t>(b) * H, nc, H, zg,
                    s.h.data() + static_cast<std::size_t>(i0) * H, i1 - i0, lr, keep);
    }
    for (int i = i0; i < i1; ++i) {
      const float* g = zg + static_cast<std::size_t>(i - i0) * nc;
      scale_axpy(dst.word_b.data() + b, nc, 1.0f, lr, g);
      update_direct(m, dst, s.features[static_cast<std::size_t>(i)], c,
                    s.class_z.data() + static_cast<std::size_t>(i) * C, g, lr, direct_keep);
      if (marks != nullptr) mark_output_updates(m, s.features[static_cast<std::size_t>(i)], c, *marks);
    }
  }
}

}  // namespace rnnlm
