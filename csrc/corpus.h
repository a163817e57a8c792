// Text -> int32 word ids with int64 sentence offsets, streamed; every line ends with </s>.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vocab.h"

namespace rnnlm {

constexpr std::int32_t kOov = -1;  // a word outside the vocabulary (when there is no <unk>)

// Sentence i is ids[offsets[i] .. offsets[i+1]), its last id being </s> (0).
struct EncodedCorpus {
  std::vector<std::int32_t> ids;
  std::vector<std::int64_t> offsets{0};
  std::int64_t oov = 0;  // tokens not in the vocabulary (mapped to <unk>, or kOov without one)
};

// Encodes `path` with `vocab`. Unknown words become <unk> when `map_unknown_to_unk` and the
// vocabulary has one, kOov otherwise. Throws MissingFileError, CorpusError (empty file,
// invalid UTF-8, ...). Thread-safe (the vocabulary is read-only).
EncodedCorpus encode_file(const Vocab& vocab, const std::string& path, bool map_unknown_to_unk,
                          std::size_t max_line_bytes, const ByteProgress& progress);

// Encodes in-memory sentences (already split into words); never fails.
void encode_words(const Vocab& vocab, const std::vector<std::string>& words, bool map_unknown_to_unk,
                  EncodedCorpus& out);

// Splits sentences [0, n) into `parts` contiguous shards of about equal word counts.
// Returns parts+1 sentence indices.
std::vector<std::int64_t> shard_sentences(const std::int64_t* offsets, std::int64_t n_sentences,
                                          int parts);

}  // namespace rnnlm
