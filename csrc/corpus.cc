#include "corpus.h"

#include <algorithm>

#include "errors.h"
#include "text_reader.h"

namespace rnnlm {

namespace {

// Appends the id of `word` (or `unknown`), counting unknown words.
inline void append_id(const Vocab& vocab, std::string_view word, std::int32_t unknown, EncodedCorpus& out) {
  std::int32_t id = vocab.id(word);
  if (id < 0) {
    id = unknown;
    ++out.oov;
  }
  out.ids.push_back(id);
}

}  // namespace

EncodedCorpus encode_file(const Vocab& vocab, const std::string& path, bool map_unknown_to_unk,
                          std::size_t max_line_bytes, const ByteProgress& progress) {
  LineReader reader(path, max_line_bytes);
  EncodedCorpus out;
  std::vector<std::string_view> tokens;
  const std::int32_t unknown = map_unknown_to_unk && vocab.unk_id() >= 0 ? vocab.unk_id() : kOov;
  while (reader.next(tokens)) {
    for (auto t : tokens) append_id(vocab, t, unknown, out);
    out.ids.push_back(0);
    out.offsets.push_back(static_cast<std::int64_t>(out.ids.size()));
    if (progress && (reader.line_number() & 0x3FFF) == 0 && !progress(reader.bytes_read())) {
      throw Interrupted("interrupted while reading '" + path + "'");
    }
  }
  if (out.offsets.size() == 1) throw CorpusError(path + ": the file is empty");
  return out;
}

void encode_words(const Vocab& vocab, const std::vector<std::string>& words, bool map_unknown_to_unk,
                  EncodedCorpus& out) {
  const std::int32_t unknown = map_unknown_to_unk && vocab.unk_id() >= 0 ? vocab.unk_id() : kOov;
  for (const auto& w : words) append_id(vocab, w, unknown, out);
  out.ids.push_back(0);
  out.offsets.push_back(static_cast<std::int64_t>(out.ids.size()));
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
