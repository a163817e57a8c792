// Word counting over text files, the frequency-sorted vocabulary and its word classes.
// Classes are contiguous id ranges (rnnlm-0.4b's frequency binning), so the output rows
// of one class form one contiguous block of the word layer.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rnnlm {

inline constexpr const char* kEos = "</s>";
inline constexpr const char* kUnk = "<unk>";

enum class ClassMethod { kSqrtFrequency = 0, kFrequency = 1 };
// The methods' names, indexed by ClassMethod (Python's _core.CLASS_METHODS).
inline constexpr std::array<const char*, 2> kClassMethodNames = {"sqrt", "frequency"};

ClassMethod parse_class_method(const std::string& name);  // throws ConfigError
const char* class_method_name(ClassMethod method);

// Called now and then with the number of bytes read so far; returns false to stop.
using ByteProgress = std::function<bool(std::int64_t)>;

// Counts whitespace-separated tokens plus one </s> per line. Not thread-safe.
class WordCounter {
 public:
  // Streams `path`; returns the bytes read. Throws MissingFileError / CorpusError naming the
  // file and line, Interrupted when `progress` (given the bytes read so far) returns false.
  std::int64_t add_file(const std::string& path, std::size_t max_line_bytes, const ByteProgress& progress);
  // Streams each file in turn; `progress` is given the bytes read so far in all of them.
  void add_files(const std::vector<std::string>& paths, std::size_t max_line_bytes,
                 const ByteProgress& progress);
  std::int64_t tokens() const { return tokens_; }
  std::int64_t lines() const { return lines_; }
  std::size_t distinct() const { return words_.size(); }
  const std::deque<std::string>& words() const { return words_; }
  const std::vector<std::int64_t>& counts() const { return counts_; }

 private:
  std::deque<std::string> words_;  // deque: element addresses stay valid for the map's views
  std::vector<std::int64_t> counts_;
  std::unordered_map<std::string_view, std::uint32_t> index_;
  std::int64_t tokens_ = 0;
  std::int64_t lines_ = 0;
};

// Class of each word (ids sorted by decreasing count), rnnlm-0.4b's binning: sqrt-frequency
// (its default) or plain frequency (its "old classes"). Returns non-decreasing class ids
// 0..k-1 with k <= n_classes; every class non-empty.
std::vector<std::int32_t> assign_classes(const std::vector<std::int64_t>& counts, int n_classes,
                                         ClassMethod method);

// An immutable vocabulary: id 0 is </s>, then words by decreasing count.
// Thread-safe for concurrent lookups.
class Vocab {
 public:
  // Validates and indexes the words: the vocabulary's rules, kept here only. </s> first,
  // every word non-empty, without whitespace (is_space) and unique, counts >= 0, classes
  // non-decreasing from 0 without gaps. Throws VocabularyError naming the word at fault by
  // index and text ("word 5 'the' appears twice, first as word 2"), its index in `word`.
  Vocab(std::vector<std::string> words, std::vector<std::int64_t> counts,
        std::vector<std::int32_t> word_class);
  // The index holds views into words_: copying would leave them dangling, moving is safe.
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;
  Vocab(Vocab&&) = default;
  Vocab& operator=(Vocab&&) = default;

  // Builds from a counter: words seen fewer than `min_count` times, and beyond the
  // `max_size` most frequent (0 = no limit), are folded into <unk>.
  static Vocab from_counts(const WordCounter& counter, std::int64_t min_count,
                           std::int64_t max_size, int n_classes, ClassMethod method);

  std::int32_t size() const { return static_cast<std::int32_t>(words_.size()); }
  std::int32_t n_classes() const { return static_cast<std::int32_t>(class_begin_.size()) - 1; }
  // Id of `word`, or -1 when it is not in the vocabulary.
  std::int32_t id(std::string_view word) const;
  std::int32_t unk_id() const { return unk_id_; }  // -1 when there is no <unk>
  const std::vector<std::string>& words() const { return words_; }
  const std::vector<std::int64_t>& counts() const { return counts_; }
  const std::vector<std::int32_t>& word_class() const { return word_class_; }
  // class c holds ids [class_begin[c], class_begin[c+1]).
  const std::vector<std::int32_t>& class_begin() const { return class_begin_; }

 private:
  std::vector<std::string> words_;
  std::vector<std::int64_t> counts_;
  std::vector<std::int32_t> word_class_;
  std::vector<std::int32_t> class_begin_;
  std::unordered_map<std::string_view, std::int32_t> index_;
  std::int32_t unk_id_ = -1;
};

}  // namespace rnnlm
