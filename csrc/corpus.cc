#include "corpus.h"

#include <algorithm>
#include <string_view>

#include "errors.h"
#include "text_reader.h"

namespace rnnlm {

namespace {

// Appends one sentence: the ids of `words` (kOov when unknown, counted) and </s>.
void append_sentence(const Vocab& vocab, const std::vector<std::string_view>& words, EncodedCorpus& out) {
  for (auto w : words) {
    const std::int32_t id = vocab.id(w);
    if (id < 0) ++out.oov;
    out.ids.push_back(id < 0 ? kOov : id);
  }
  out.ids.push_back(0);
  out.offsets.push_back(static_cast<std::int64_t>(out.ids.size()));
}

// Fills `mapped` (when it differs from ids) and puts every sentence in reading order.
void finish(const Vocab& vocab, bool backward, EncodedCorpus& c) {
  const std::int32_t unk = vocab.unk_id();
  c.mapped_is_ids = c.oov == 0 || unk < 0;
  if (!c.mapped_is_ids) {
    c.mapped = c.ids;
    std::replace(c.mapped.begin(), c.mapped.end(), kOov, unk);
  }
  c.backward = backward;
  if (!backward) return;
  c.order.resize(c.ids.size());
  for (std::size_t s = 0; s + 1 < c.offsets.size(); ++s) {
    const std::int64_t b = c.offsets[s], last = c.offsets[s + 1] - 1;  // </s> stays at `last`
    for (std::int64_t p = b; p < last; ++p) c.order[static_cast<std::size_t>(p)] = b + last - 1 - p;
    c.order[static_cast<std::size_t>(last)] = last;
    std::reverse(c.ids.begin() + b, c.ids.begin() + last);
    if (!c.mapped_is_ids) std::reverse(c.mapped.begin() + b, c.mapped.begin() + last);
  }
}

}  // namespace

EncodedCorpus encode_file(const Vocab& vocab, const std::string& path, bool backward,
                          std::size_t max_line_bytes, const ByteProgress& progress) {
  LineReader reader(path, max_line_bytes);
  EncodedCorpus out;
  std::vector<std::string_view> tokens;
  while (reader.next(tokens)) {
    append_sentence(vocab, tokens, out);
    if (progress && (reader.line_number() & 0x3FFF) == 0 && !progress(reader.bytes_read())) {
      throw Interrupted("interrupted while reading '" + path + "'");
    }
  }
  if (out.offsets.size() == 1) throw CorpusError(path + ": the file is empty");
  finish(vocab, backward, out);
  return out;
}

EncodedCorpus encode_sentences(const Vocab& vocab, const std::vector<std::string>& sentences,
                               bool backward) {
  EncodedCorpus out;
  std::vector<std::string_view> words;
  for (const auto& s : sentences) {
    words.clear();
    split_words(s, words);
    append_sentence(vocab, words, out);
  }
  finish(vocab, backward, out);
  return out;
}

void check_ids(const std::int32_t* ids, std::int64_t n_ids, const std::int64_t* offsets,
               std::int64_t n_offsets, std::int32_t vocab_size) {
  if (n_offsets < 2) throw ConfigError("offsets must hold at least one sentence (two entries)");
  if (offsets[0] != 0 || offsets[n_offsets - 1] != n_ids) {
    throw ConfigError("offsets must start at 0 and end at len(ids)");
  }
  for (std::int64_t i = 0; i + 1 < n_offsets; ++i) {
    if (offsets[i + 1] <= offsets[i]) throw ConfigError("sentence " + std::to_string(i) + " is empty in offsets");
  }
  for (std::int64_t k = 0; k < n_ids; ++k) {
    if (ids[k] < -1 || ids[k] >= vocab_size) {
      throw VocabularyError("word id " + std::to_string(ids[k]) + " at position " + std::to_string(k) +
                            " is outside the model's vocabulary of " + std::to_string(vocab_size) + " words");
    }
  }
}

std::vector<std::int64_t> shard_sentences(const std::int64_t* offsets, std::int64_t n_sentences,
                                          int parts) {
  parts = std::max(1, parts);
  std::vector<std::int64_t> bounds{0};
  const std::int64_t total = offsets[n_sentences] - offsets[0];
  for (int p = 1; p < parts; ++p) {
    const std::int64_t target = offsets[0] + total * p / parts;
    auto it = std::lower_bound(offsets, offsets + n_sentences + 1, target);
    std::int64_t s = std::min<std::int64_t>(it - offsets, n_sentences);
    bounds.push_back(std::max(s, bounds.back()));
  }
  bounds.push_back(n_sentences);
  return bounds;
}

}  // namespace rnnlm
