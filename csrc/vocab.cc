#include "vocab.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "errors.h"
#include "names.h"
#include "text_reader.h"

namespace rnnlm {

ClassMethod parse_class_method(const std::string& name) {
  if (auto method = enum_from_name<ClassMethod>(kClassMethodNames, name)) return *method;
  throw ConfigError("unknown class method '" + name + "' (expected 'sqrt' or 'frequency')");
}

const char* class_method_name(ClassMethod method) { return enum_name(kClassMethodNames, method); }

std::int64_t WordCounter::add_file(const std::string& path, std::size_t max_line_bytes,
                                   const ByteProgress& progress) {
  LineReader reader(path, max_line_bytes);
  std::vector<std::string_view> tokens;
  const std::int64_t lines_before = lines_;
  auto count = [this](std::string_view w) {
    auto it = index_.find(w);
    if (it != index_.end()) {
      ++counts_[it->second];
      return;
    }
    if (words_.size() >= static_cast<std::size_t>(INT32_MAX - 1)) {
      throw CorpusError("more than 2^31 distinct words: ids would overflow 32 bits");
    }
    words_.emplace_back(w);
    counts_.push_back(1);
    index_.emplace(std::string_view(words_.back()), static_cast<std::uint32_t>(words_.size() - 1));
  };
  count(kEos);  // keep </s> first even when a file is empty
  --counts_[index_.at(kEos)];
  while (reader.next(tokens)) {
    for (auto t : tokens) count(t);
    count(kEos);
    tokens_ += static_cast<std::int64_t>(tokens.size()) + 1;
    ++lines_;
    if (progress && (lines_ & 0x3FFF) == 0 && !progress(reader.bytes_read())) {
      throw Interrupted("interrupted while counting words in '" + path + "'");
    }
  }
  if (lines_ == lines_before) throw CorpusError(path + ": the file is empty");
  return reader.bytes_read();
}

void WordCounter::add_files(const std::vector<std::string>& paths, std::size_t max_line_bytes,
                            const ByteProgress& progress) {
  std::int64_t before = 0;
  const ByteProgress cumulative = [&](std::int64_t b) { return !progress || progress(before + b); };
  for (const auto& path : paths) before += add_file(path, max_line_bytes, cumulative);
}

std::vector<std::int32_t> assign_classes(const std::vector<std::int64_t>& counts, int n_classes,
                                         ClassMethod method) {
  if (n_classes < 1) throw ConfigError("the number of classes must be at least 1");
  const std::size_t n = counts.size();
  std::vector<std::int32_t> cls(n, 0);
  double total = 0;
  for (auto c : counts) total += static_cast<double>(c);
  if (n == 0 || total <= 0) return cls;
  // Weight of each word in the cumulative binning.
  std::vector<double> w(n);
  double norm = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double f = static_cast<double>(counts[i]) / total;
    w[i] = method == ClassMethod::kSqrtFrequency ? std::sqrt(f) : f;
    norm += w[i];
  }
  double cum = 0;
  int a = 0;
  for (std::size_t i = 0; i < n; ++i) {
    cum += w[i] / norm;
    if (cum > 1) cum = 1;
    cls[i] = a;
    if (cum > static_cast<double>(a + 1) / n_classes && a < n_classes - 1) ++a;
  }
  return cls;
}

Vocab Vocab::from_counts(const WordCounter& counter, std::int64_t min_count,
                         std::int64_t max_size, int n_classes, ClassMethod method) {
  if (min_count < 1) throw ConfigError("min_count must be at least 1");
  if (max_size < 0) throw ConfigError("max_size must be 0 (no limit) or positive");
  if (counter.lines() == 0) throw CorpusError("no text to build a vocabulary from");
  const auto& words = counter.words();
  const auto& counts = counter.counts();
  std::vector<std::uint32_t> order;
  std::int64_t unk_count = 0;
  bool has_unk = false;
  std::uint32_t eos = 0;
  for (std::uint32_t i = 0; i < words.size(); ++i) {
    if (words[i] == kEos) {
      eos = i;
    } else if (words[i] == kUnk) {
      has_unk = true;
      unk_count += counts[i];
    } else if (counts[i] >= min_count) {
      order.push_back(i);
    } else {
      unk_count += counts[i];
    }
  }
  auto by_count = [&](std::uint32_t a, std::uint32_t b) {
    return counts[a] != counts[b] ? counts[a] > counts[b] : words[a] < words[b];
  };
  std::sort(order.begin(), order.end(), by_count);
  // Room for </s> and <unk> within max_size.
  if (max_size > 0) {
    const std::int64_t room = std::max<std::int64_t>(max_size - 1 - (has_unk || unk_count ? 1 : 0), 0);
    if (static_cast<std::int64_t>(order.size()) > room) {
      for (std::size_t k = static_cast<std::size_t>(room); k < order.size(); ++k) unk_count += counts[order[k]];
      order.resize(static_cast<std::size_t>(room));
    }
  }
  std::vector<std::string> out_words{kEos};
  std::vector<std::int64_t> out_counts{counts[eos]};
  bool unk_placed = !(has_unk || unk_count > 0);
  for (auto i : order) {
    if (!unk_placed && unk_count >= counts[i]) {
      out_words.emplace_back(kUnk);
      out_counts.push_back(unk_count);
      unk_placed = true;
    }
    out_words.emplace_back(words[i]);
    out_counts.push_back(counts[i]);
  }
  if (!unk_placed) {
    out_words.emplace_back(kUnk);
    out_counts.push_back(unk_count);
  }
  auto cls = assign_classes(out_counts, n_classes, method);
  return Vocab(std::move(out_words), std::move(out_counts), std::move(cls));
}

namespace {

// `word` in single quotes, control characters escaped, for messages.
std::string quoted(const std::string& word) {
  std::string q = "'";
  for (unsigned char c : word) {
    if (c == '\\') {
      q += "\\\\";
    } else if (c < 0x20 || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      q += hex;
    } else {
      q += static_cast<char>(c);
    }
  }
  return q + "'";
}

}  // namespace

Vocab::Vocab(std::vector<std::string> words, std::vector<std::int64_t> counts,
             std::vector<std::int32_t> word_class)
    : words_(std::move(words)), counts_(std::move(counts)), word_class_(std::move(word_class)) {
  const std::size_t n = words_.size();
  if (n == 0) throw VocabularyError("the vocabulary is empty (it must start with </s>)");
  if (n >= static_cast<std::size_t>(INT32_MAX)) throw VocabularyError("vocabulary too large for 32-bit ids");
  if (counts_.size() != n || word_class_.size() != n) {
    throw VocabularyError("vocabulary arrays differ in length: " + std::to_string(n) + " words, " +
                          std::to_string(counts_.size()) + " counts, " +
                          std::to_string(word_class_.size()) + " classes");
  }
  index_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& w = words_[i];
    const std::int64_t k = static_cast<std::int64_t>(i);
    const std::string word = "word " + std::to_string(i);
    if (w.empty()) throw VocabularyError(word + " is empty", k);
    if (std::any_of(w.begin(), w.end(), is_space)) {
      throw VocabularyError(word + " " + quoted(w) + " contains whitespace", k);
    }
    if (i == 0 && w != kEos) {
      throw VocabularyError(word + " " + quoted(w) + " is not </s>: the vocabulary must start with </s>", k);
    }
    if (counts_[i] < 0) {
      throw VocabularyError(word + " " + quoted(w) + " has a negative count " + std::to_string(counts_[i]), k);
    }
    const auto [it, inserted] = index_.emplace(std::string_view(w), static_cast<std::int32_t>(i));
    if (!inserted) {
      throw VocabularyError(word + " " + quoted(w) + " appears twice, first as word " + std::to_string(it->second),
                            k, it->second);
    }
    const std::int32_t prev = i == 0 ? 0 : word_class_[i - 1];
    const std::int32_t c = word_class_[i];
    if ((i == 0 && c != 0) || c < prev || c > prev + 1) {
      throw VocabularyError(word + " " + quoted(w) + " has class " + std::to_string(c) + " after class " +
                                std::to_string(prev) + ": word classes must be contiguous id ranges starting at 0",
                            k);
    }
    if (i == 0 || c != prev) class_begin_.push_back(static_cast<std::int32_t>(i));
  }
  class_begin_.push_back(static_cast<std::int32_t>(n));
  auto it = index_.find(kUnk);
  unk_id_ = it == index_.end() ? -1 : it->second;
}

std::int32_t Vocab::id(std::string_view word) const {
  auto it = index_.find(word);
  return it == index_.end() ? -1 : it->second;
}

}  // namespace rnnlm
