// Text -> int32 word ids with int64 sentence offsets, streamed; every line ends with </s>.
// Encoding also maps unknown words to <unk> and, for a backward model, reverses every
// sentence, so a model reads an EncodedCorpus as it is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vocab.h"

namespace rnnlm {

constexpr std::int32_t kOov = -1;  // a word outside the vocabulary

// Sentence i is ids[offsets[i] .. offsets[i+1]), its last id being </s> (0), stored in the
// model's reading order.
struct EncodedCorpus {
  std::vector<std::int32_t> ids;  // unknown words as kOov
  std::vector<std::int64_t> offsets{0};
  std::int64_t oov = 0;  // tokens not in the vocabulary
  // ids with unknown words as the vocabulary's <unk>. Empty while `mapped_is_ids` (the
  // vocabulary has no <unk>, or no word is unknown): then `ids` serves for both.
  std::vector<std::int32_t> mapped;
  bool mapped_is_ids = true;
  // Backward: the words of every sentence are stored last to first, </s> kept last, and
  // order[i] is the text position of stored position i (a permutation, its own inverse).
  // Forward: `order` is empty.
  bool backward = false;
  std::vector<std::int64_t> order;

  const std::vector<std::int32_t>& mapped_ids() const { return mapped_is_ids ? ids : mapped; }
};

// Encodes `path` with `vocab` in the given direction. Throws MissingFileError, CorpusError
// (empty file, invalid UTF-8, ...), Interrupted when `progress` returns false.
// Thread-safe (the vocabulary is read-only).
EncodedCorpus encode_file(const Vocab& vocab, const std::string& path, bool backward,
                          std::size_t max_line_bytes, const ByteProgress& progress);

// Encodes in-memory sentences, each a string of whitespace-separated words (split by
// split_words) followed by </s>. Never fails; thread-safe.
EncodedCorpus encode_sentences(const Vocab& vocab, const std::vector<std::string>& sentences,
                               bool backward);

// Checks a corpus given by the caller before a model reads it: at least one sentence,
// offsets from 0 to n_ids, no empty sentence (ConfigError); every id in [-1, vocab_size)
// (VocabularyError). Reads only; thread-safe.
void check_ids(const std::int32_t* ids, std::int64_t n_ids, const std::int64_t* offsets,
               std::int64_t n_offsets, std::int32_t vocab_size);

// Splits sentences [0, n) into `parts` contiguous shards of about equal word counts.
// Returns parts+1 sentence indices.
std::vector<std::int64_t> shard_sentences(const std::int64_t* offsets, std::int64_t n_sentences,
                                          int parts);

}  // namespace rnnlm
