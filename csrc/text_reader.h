// Streams the lines of a plain or gzip-compressed UTF-8 text file, one sentence per line,
// and splits them into whitespace-separated tokens. Every error names the file and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine_limits.h"

namespace rnnlm {

// The engine's one whitespace rule: these six ASCII characters separate words, and no
// vocabulary word contains one; nothing else is whitespace (not U+00A0, not U+2028).
inline constexpr const char kWhitespace[] = " \t\n\v\f\r";
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Appends the whitespace-separated words of `text` to `words` (views into `text`).
// Pure; thread-safe.
void split_words(std::string_view text, std::vector<std::string_view>& words);

class LineReader {
 public:
  // Opens `path` (plain text or .gz, detected from its content). Throws MissingFileError.
  LineReader(const std::string& path, std::size_t max_line_bytes = kDefaultMaxLineBytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Reads the next line into `tokens` (views valid until the next call). Returns false at
  // end of file. Throws CorpusError on invalid UTF-8, NUL bytes or a line over the limit.
  bool next(std::vector<std::string_view>& tokens);

  std::int64_t line_number() const { return line_number_; }
  std::int64_t bytes_read() const { return consumed_; }
  const std::string& path() const { return path_; }
  // Throws CorpusError with "path:line: what".
  [[noreturn]] void fail(const std::string& what) const;

 private:
  bool fill();  // reads more bytes into buffer_; false at EOF

  std::string path_;
  std::size_t max_line_bytes_;
  void* gz_ = nullptr;  // gzFile, kept opaque so zlib.h stays out of headers
  std::string buffer_;
  std::size_t begin_ = 0;  // start of unread data in buffer_
  bool eof_ = false;
  bool first_line_ = true;
  std::int64_t line_number_ = 0;
  std::int64_t consumed_ = 0;
};

// Whether `text` is valid UTF-8 (no overlongs, no surrogates, no NUL). On failure sets
// `bad_offset` to the first offending byte.
bool valid_utf8(std::string_view text, std::size_t& bad_offset);

}  // namespace rnnlm
