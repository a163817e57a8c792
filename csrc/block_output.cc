#include "block_output.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "blas.h"
#include "block_vector.h"
#include "class_softmax.h"
#include "kernels.h"
#include "simd.h"

namespace rnnlm {
namespace {

// Most rows of a class whose word layer update is rank_update's loop instead of a library product.
constexpr int kSmallRows = 4;

// x = softmax(x) in place, shifted by the maximum; returns the log normaliser (log sum exp) in
// double. exp_vec eight at a time (kernels.cc's softmax stays scalar under the AVX clones); the
// sum in one fixed order (reproducible).
RNNLM_CLONES
double softmax_block(float* __restrict x, int n) {
  float mx = x[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  const int n8 = n & ~7;
  const v8f m8 = splat8(mx);
  v8f acc = {};
  for (int i = 0; i < n8; i += 8) {
    const v8f v = exp_vec(load8(x + i) - m8);
    store8(x + i, v);
    acc += v;
  }
  const v8f zero = {};
  float sum = hsum4(acc, zero, zero, zero)[0];
  for (int i = n8; i < n; ++i) {
    x[i] = exp_vec(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  const v8f inv8 = splat8(inv);
  for (int i = 0; i < n8; i += 8) store8(x + i, load8(x + i) * inv8);
  for (int i = n8; i < n; ++i) x[i] *= inv;
  return std::log(static_cast<double>(sum)) + static_cast<double>(mx);
}

// w[j] = beta * w[j] + alpha * sum_r z[r * ldz + j] * h[r] for the nc rows j of w (H wide), r < n,
// h[r] = h + r * H: a class's word_w update from its few positions, one pass over w (the library's
// product packs its operands first, which costs more than the product at one to four rows).
RNNLM_CLONES
void rank_update(float* __restrict w, int nc, int H, const float* __restrict z, int ldz, const float* __restrict h,
                 int n, float alpha, float beta) {
  const int h8 = H & ~7;
  const std::size_t sH = static_cast<std::size_t>(H);
  for (int j = 0; j < nc; ++j) {
    float* wj = w + static_cast<std::size_t>(j) * sH;
    float c[kSmallRows];
    for (int r = 0; r < n; ++r) c[r] = alpha * z[static_cast<std::size_t>(r) * ldz + j];
    for (int i = 0; i < h8; i += 8) {
      v8f a = beta == 0.0f ? v8f{} : load8(wj + i) * beta;
      for (int r = 0; r < n; ++r) a += splat8(c[r]) * load8(h + r * sH + i);
      store8(wj + i, a);
    }
    for (int i = h8; i < H; ++i) {
      float a = beta == 0.0f ? 0.0f : wj[i] * beta;
      for (int r = 0; r < n; ++r) a += c[r] * h[r * sH + i];
      wj[i] = a;
    }
  }
}

}  // namespace

BlockOutput::BlockOutput(const Model& m, int capacity, int parts)
    : parts_(parts),
      order_(static_cast<std::size_t>(capacity)),
      row_class_(static_cast<std::size_t>(capacity)),
      row_word_(static_cast<std::size_t>(capacity)),
      h_(static_cast<std::size_t>(capacity) * m.hidden()),
      class_z_(static_cast<std::size_t>(capacity) * m.n_classes()),
      word_off_(static_cast<std::size_t>(capacity)),
      d_h_(static_cast<std::size_t>(capacity) * m.hidden()),
      features_(m.direct_order() > 0 ? static_cast<std::size_t>(capacity) : 0),
      count_(static_cast<std::size_t>(m.n_classes()) + 1),
      stored_(static_cast<std::size_t>(m.n_classes())),
      gram_z_(static_cast<std::size_t>(parts) * kGramRows * kGramRows),
      gram_h_(static_cast<std::size_t>(parts) * kGramRows * kGramRows) {
  used_.reserve(static_cast<std::size_t>(m.n_classes()));
  group_start_.reserve(static_cast<std::size_t>(m.n_classes()) + 1);
  part_start_.assign(static_cast<std::size_t>(parts) + 1, 0);
  cost_.reserve(static_cast<std::size_t>(m.n_classes()) + 1);
}

void BlockOutput::prepare(const Model& m, int n, const float* h, const std::int32_t* targets,
                          const std::int32_t* const* histories, float scale) {
  const int C = m.n_classes();
  const auto& word_class = m.word_class();
  const auto& class_begin = m.class_begin();
  n_ = n;
  scale_ = scale;
  h_in_ = h;
  histories_ = histories;
  // Counting sort of the positions by target class (stable: position order within a class).
  std::fill(count_.begin(), count_.end(), 0);
  for (int i = 0; i < n; ++i) ++count_[static_cast<std::size_t>(word_class[targets[i]]) + 1];
  used_.clear();
  group_start_.clear();
  for (int c = 0; c < C; ++c) {
    if (count_[static_cast<std::size_t>(c) + 1] > 0) {
      used_.push_back(c);
      group_start_.push_back(count_[static_cast<std::size_t>(c)]);
    }
    count_[static_cast<std::size_t>(c) + 1] += count_[static_cast<std::size_t>(c)];
  }
  group_start_.push_back(n);
  for (int i = 0; i < n; ++i) {
    const std::int32_t c = word_class[targets[i]];
    const int r = count_[static_cast<std::size_t>(c)]++;
    order_[static_cast<std::size_t>(r)] = i;
    row_class_[static_cast<std::size_t>(r)] = c;
    row_word_[static_cast<std::size_t>(r)] = targets[i] - class_begin[c];
  }
  std::int64_t off = 0;
  for (int r = 0; r < n; ++r) {
    const std::int32_t c = row_class_[static_cast<std::size_t>(r)];
    word_off_[static_cast<std::size_t>(r)] = off;
    off += class_begin[c + 1] - class_begin[c];
  }
  // Sized by the block's own classes (grows to the largest block seen, then stays).
  if (word_z_.size() < static_cast<std::size_t>(off)) word_z_.resize(static_cast<std::size_t>(off));
  cut_parts(m);
}

// Each part gets the classes whose cumulative cost is nearest its share. A class costs its rows
// times its size (three products over its rows), each row the class layer's backward (C), and
// each class a few passes over its word_w rows whatever its rows.
void BlockOutput::cut_parts(const Model& m) {
  const int G = static_cast<int>(used_.size()), C = m.n_classes();
  part_start_.front() = 0;
  part_start_.back() = G;
  if (parts_ == 1) return;
  const auto& class_begin = m.class_begin();
  cost_.assign(1, 0.0);
  for (int g = 0; g < G; ++g) {
    const double rows = group_start_[g + 1] - group_start_[g];
    const double nc = class_begin[used_[g] + 1] - class_begin[used_[g]];
    cost_.push_back(cost_.back() + rows * (3 * nc + C) + 4 * nc);
  }
  int g = 0;
  for (int p = 1; p < parts_; ++p) {
    const double target = cost_.back() * p / parts_;
    while (g < G && cost_[g + 1] <= target) ++g;
    if (g < G && cost_[g + 1] - target < target - cost_[g]) ++g;  // the nearer boundary
    part_start_[p] = g;
  }
}

PartRange BlockOutput::part_classes(int p) const {
  return {part_start_[static_cast<std::size_t>(p)], part_start_[static_cast<std::size_t>(p) + 1]};
}

void BlockOutput::class_forward(const Model& m, int r0, int r1, double* lp) {
  if (r0 >= r1) return;
  const int H = m.hidden(), C = m.n_classes();
  const bool direct = m.direct_order() > 0;
  for (int r = r0; r < r1; ++r) {
    std::memcpy(h_.data() + static_cast<std::size_t>(r) * H, h_in_ + static_cast<std::size_t>(order_[r]) * H,
                sizeof(float) * H);
  }
  block_sgemm(false, true, r1 - r0, C, H, 1.0f, h_.data() + static_cast<std::size_t>(r0) * H, H, m.class_w.data(),
              H, 0.0f, class_z_.data() + static_cast<std::size_t>(r0) * C, C);
  // Class biases, direct features and the class softmax, per row; the class part of ln P.
  for (int r = r0; r < r1; ++r) {
    const std::int32_t c = row_class_[r];
    float* zc = class_z_.data() + static_cast<std::size_t>(r) * C;
    for (int k = 0; k < C; ++k) zc[k] += m.class_b[k];
    if (direct) add_direct_class_logits(m, histories_[order_[r]], features_[static_cast<std::size_t>(r)], zc);
    const double class_logit = zc[c];
    lp[order_[r]] = class_logit - softmax_block(zc, C);
  }
}

// The word layer of one class over the rows predicting it: the product, the softmax within the
// class, dL/dlogits = scale * (probabilities - one-hot), and at once the word part of dL/dh (rows
// in d_h_, which word_pass adds the class part to) while the class's rows of word_w are still in
// cache: one pass over them serves the forward and the backward.
void BlockOutput::word_forward(const Model& m, std::size_t g, double* lp) {
  const int H = m.hidden();
  const int r0 = group_start_[g], r1 = group_start_[g + 1];
  const std::int32_t c = used_[g], b = m.class_begin()[c];
  const int nc = m.class_begin()[c + 1] - b;
  const bool direct = m.direct_order() > 0;
  const float scale = scale_;
  const float* wc = m.word_w.data() + static_cast<std::size_t>(b) * H;
  float* zg = word_z_.data() + word_off_[static_cast<std::size_t>(r0)];
  block_sgemm(false, true, r1 - r0, nc, H, 1.0f, h_.data() + static_cast<std::size_t>(r0) * H, H, wc, H, 0.0f, zg,
              nc);
  for (int r = r0; r < r1; ++r) {
    const int i = order_[r];
    float* zw = zg + static_cast<std::size_t>(r - r0) * nc;
    for (int k = 0; k < nc; ++k) zw[k] += m.word_b[b + k];
    if (direct) add_direct_word_logits(m, histories_[i], c, features_[static_cast<std::size_t>(r)], zw);
    const double word_logit = zw[row_word_[r]];
    lp[i] += word_logit - softmax_block(zw, nc);
    for (int k = 0; k < nc; ++k) zw[k] *= scale;
    zw[row_word_[r]] -= scale;
  }
  block_sgemm(false, false, r1 - r0, H, nc, 1.0f, zg, nc, wc, H, 0.0f, d_h_.data() + static_cast<std::size_t>(r0) * H,
              H);
}

double BlockOutput::word_pass(const Model& m, int p, double* lp, float* d_h, float* g_word_w, float* g_word_b) {
  const PartRange gs = part_classes(p);
  if (gs.size() == 0) return 0.0;
  const int H = m.hidden(), C = m.n_classes();
  const int r0 = group_start_[gs.begin], r1 = group_start_[gs.end];
  const float scale = scale_;
  for (int g = gs.begin; g < gs.end; ++g) word_forward(m, static_cast<std::size_t>(g), lp);
  // The rows' dL/dlogits of the class layer = scale * (probabilities - one-hot), and their class
  // part of dL/dh added to the word part.
  for (int r = r0; r < r1; ++r) {
    const std::int32_t c = row_class_[r];
    float* gc = class_z_.data() + static_cast<std::size_t>(r) * C;
    for (int k = 0; k < C; ++k) gc[k] *= scale;
    gc[c] -= scale;
  }
  block_sgemm(false, false, r1 - r0, H, C, 1.0f, class_z_.data() + static_cast<std::size_t>(r0) * C, C,
              m.class_w.data(), H, 1.0f, d_h_.data() + static_cast<std::size_t>(r0) * H, H);
  const std::size_t gram = static_cast<std::size_t>(kGramRows) * kGramRows * static_cast<std::size_t>(p);
  double word_norm2 = 0;
  for (int g = gs.begin; g < gs.end; ++g) {
    word_backward(m, static_cast<std::size_t>(g), gram_z_.data() + gram, gram_h_.data() + gram, g_word_w, g_word_b,
                  word_norm2);
  }
  for (int r = r0; r < r1; ++r) {
    std::memcpy(d_h + static_cast<std::size_t>(order_[r]) * H, d_h_.data() + static_cast<std::size_t>(r) * H,
                sizeof(float) * H);
  }
  return word_norm2;
}

// One class's word bias gradient, and its word_w gradient G = Z^T Hg (nc x H)'s squared norm added
// to norm2. Where the rows are few, the norm comes from the Gram matrices, sum (Z Z^T) .* (Hg Hg^T),
// and G itself is only formed by the update's product; otherwise G is kept in g_word_w.
void BlockOutput::word_backward(const Model& m, std::size_t g, float* gram_z, float* gram_h, float* g_word_w,
                                float* g_word_b, double& norm2) {
  const int H = m.hidden();
  const int r0 = group_start_[g], r1 = group_start_[g + 1], rows = r1 - r0;
  const std::int32_t c = used_[g], b = m.class_begin()[c];
  const int nc = m.class_begin()[c + 1] - b;
  const float* zg = word_z_.data() + word_off_[static_cast<std::size_t>(r0)];
  const float* hg = h_.data() + static_cast<std::size_t>(r0) * H;
  const bool use_gram = rows <= kGramRows && static_cast<double>(rows) * (nc + H) <= 2.0 * nc * H;
  stored_[g] = rows <= kSmallRows ? kSmall : use_gram ? kGram : kStored;
  if (rows <= kSmallRows) {  // the Gram matrices' entries as dot products, no library calls
    for (int r = 0; r < rows; ++r) {
      for (int q = 0; q <= r; ++q) {
        const double zz = dot_double(zg + static_cast<std::size_t>(r) * nc, zg + static_cast<std::size_t>(q) * nc,
                                     static_cast<std::size_t>(nc));
        const double hh = dot_double(hg + static_cast<std::size_t>(r) * H, hg + static_cast<std::size_t>(q) * H,
                                     static_cast<std::size_t>(H));
        norm2 += (q == r ? 1.0 : 2.0) * zz * hh;
      }
    }
  } else if (use_gram) {
    block_sgemm(false, true, rows, rows, nc, 1.0f, zg, nc, zg, nc, 0.0f, gram_z, rows);
    block_sgemm(false, true, rows, rows, H, 1.0f, hg, H, hg, H, 0.0f, gram_h, rows);
    norm2 += dot_double(gram_z, gram_h, static_cast<std::size_t>(rows) * rows);
  } else {
    float* gw = g_word_w + static_cast<std::size_t>(b) * H;
    block_sgemm(true, false, nc, H, rows, 1.0f, zg, nc, hg, H, 0.0f, gw, H);
    norm2 += dot_double(gw, gw, static_cast<std::size_t>(nc) * H);
  }
  float* gb = g_word_b + b;
  std::fill(gb, gb + nc, 0.0f);
  for (int r = r0; r < r1; ++r) {
    const float* gw = zg + static_cast<std::size_t>(r - r0) * nc;
    for (int k = 0; k < nc; ++k) gb[k] += gw[k];
  }
}

void BlockOutput::class_gradient(const Model& m, int c0, int c1, float* g_class_w, float* g_class_b) const {
  if (c0 >= c1) return;
  const int n = n_, H = m.hidden(), C = m.n_classes();
  block_sgemm(true, false, c1 - c0, H, n, 1.0f, class_z_.data() + c0, C, h_.data(), H, 0.0f,
              g_class_w + static_cast<std::size_t>(c0) * H, H);
  std::fill(g_class_b + c0, g_class_b + c1, 0.0f);
  for (int r = 0; r < n; ++r) {
    const float* gc = class_z_.data() + static_cast<std::size_t>(r) * C;
    for (int k = c0; k < c1; ++k) g_class_b[k] += gc[k];
  }
}

void BlockOutput::word_update(const Model& m, int p, const float* g_word_w, float* w, float alpha, float beta) const {
  const int H = m.hidden();
  const auto& class_begin = m.class_begin();
  const PartRange gs = part_classes(p);
  for (int g = gs.begin; g < gs.end; ++g) {
    const int r0 = group_start_[g], r1 = group_start_[g + 1];
    const std::int32_t c = used_[g], b = class_begin[c];
    const int nc = class_begin[c + 1] - b;
    float* wc = w + static_cast<std::size_t>(b) * H;
    const float* zg = word_z_.data() + word_off_[static_cast<std::size_t>(r0)];
    if (stored_[g] == kStored) {
      const float* gc = g_word_w + static_cast<std::size_t>(b) * H;
      scale_add(wc, gc, static_cast<std::size_t>(nc) * H, beta, alpha);
    } else if (stored_[g] == kSmall) {
      rank_update(wc, nc, H, zg, nc, h_.data() + static_cast<std::size_t>(r0) * H, r1 - r0, alpha, beta);
    } else {
      block_sgemm(true, false, nc, H, r1 - r0, alpha, zg, nc, h_.data() + static_cast<std::size_t>(r0) * H, H, beta,
                  wc, H);
    }
  }
}

void BlockOutput::mark_updates(const Model& m, UpdateMarks& marks) const {
  if (m.direct_order() == 0) {  // features_ hold nothing then: the classes alone
    for (std::int32_t c : used_) marks.word_class(c);
    return;
  }
  for (int r = 0; r < n_; ++r) {  // each row's class and direct weights
    mark_output_updates(m, features_[static_cast<std::size_t>(r)], row_class_[static_cast<std::size_t>(r)], marks);
  }
}

void BlockOutput::add_direct_gradient(const Model& m, float* target, float factor) const {
  if (m.direct_order() == 0) return;
  const int C = m.n_classes();
  const auto& class_begin = m.class_begin();
  for (int r = 0; r < n_; ++r) {
    const DirectFeatures& f = features_[static_cast<std::size_t>(r)];
    const float* gc = class_z_.data() + static_cast<std::size_t>(r) * C;
    for (int a = 0; a < f.class_count; ++a) {
      float* w = target + f.class_start[static_cast<std::size_t>(a)];
      for (int k = 0; k < C; ++k) w[k] += factor * gc[k];
    }
    const std::int32_t c = row_class_[static_cast<std::size_t>(r)];
    const int nc = class_begin[c + 1] - class_begin[c];
    const float* gw = word_z_.data() + word_off_[static_cast<std::size_t>(r)];
    for_word_features(f, nc, m.direct_size(), [&](std::size_t i, int j) { target[i] += factor * gw[j]; });
  }
}

}  // namespace rnnlm
