#include "text_reader.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace rnnlm {
namespace {

constexpr std::size_t kChunkBytes = 1 << 20;

}  // namespace

void split_words(std::string_view text, std::vector<std::string_view>& words) {
  const char* p = text.data();
  const char* e = p + text.size();
  while (p < e) {
    while (p < e && is_space(*p)) ++p;
    const char* w = p;
    while (p < e && !is_space(*p)) ++p;
    if (p > w) words.emplace_back(w, static_cast<std::size_t>(p - w));
  }
}

bool valid_utf8(std::string_view text, std::size_t& bad_offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c >= 0x01 && c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c == 0) {
      bad_offset = i;
      return false;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      bad_offset = i;
      return false;
    }
    if (i + len > n) {
      bad_offset = i;
      return false;
    }
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        bad_offset = i;
        return false;
      }
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                          (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      bad_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

LineReader::LineReader(const std::string& path, std::size_t max_line_bytes)
    : path_(path), max_line_bytes_(max_line_bytes) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw MissingFileError("cannot open '" + path + "': " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    throw MissingFileError("cannot read '" + path + "': it is a directory");
  }
  errno = 0;
  gzFile gz = gzopen(path.c_str(), "rb");
  if (gz == nullptr) {
    throw MissingFileError("cannot open '" + path + "': " +
                           (errno ? std::strerror(errno) : "out of memory"));
  }
  gzbuffer(gz, 256 * 1024);
  gz_ = gz;
}

LineReader::~LineReader() {
  if (gz_ != nullptr) gzclose(static_cast<gzFile>(gz_));
}

void LineReader::fail(const std::string& what) const {
  throw CorpusError(path_ + ":" + std::to_string(line_number_) + ": " + what);
}

bool LineReader::fill() {
  if (eof_) return false;
  // Drop consumed bytes so the buffer never grows past one chunk plus one line.
  buffer_.erase(0, begin_);
  begin_ = 0;
  const std::size_t old = buffer_.size();
  buffer_.resize(old + kChunkBytes);
  const int got = gzread(static_cast<gzFile>(gz_), &buffer_[old], kChunkBytes);
  if (got < 0) {
    int code = 0;
    const char* msg = gzerror(static_cast<gzFile>(gz_), &code);
    throw CorpusError(path_ + ": after line " + std::to_string(line_number_) +
                      ": cannot read: " + (msg ? msg : "read error") +
                      (code == Z_DATA_ERROR ? " (corrupt or truncated gzip data)" : ""));
  }
  buffer_.resize(old + static_cast<std::size_t>(got));
  if (got == 0) {
    eof_ = true;
    // zlib reports a truncated gzip stream only through gzerror at the end.
    int code = 0;
    gzerror(static_cast<gzFile>(gz_), &code);
    if (code != Z_OK && code != Z_STREAM_END) {
      throw CorpusError(path_ + ": after line " + std::to_string(line_number_) +
                        ": truncated or corrupt gzip data");
    }
    return false;
  }
  return true;
}

bool LineReader::next(std::vector<std::string_view>& tokens) {
  tokens.clear();
  std::size_t scanned = begin_;
  std::size_t end;
  for (;;) {
    const char* start = buffer_.data() + scanned;
    const void* nl = std::memchr(start, '\n', buffer_.size() - scanned);
    if (nl != nullptr) {
      end = static_cast<const char*>(nl) - buffer_.data();
      break;
    }
    scanned = buffer_.size();
    if (scanned - begin_ > max_line_bytes_) {
      ++line_number_;
      fail("line longer than " + std::to_string(max_line_bytes_) +
           " bytes (raise max_line_bytes if this is intended)");
    }
    const std::size_t offset = scanned - begin_;
    if (!fill()) {
      if (begin_ == buffer_.size()) return false;
      end = buffer_.size();  // last line without a final newline
      break;
    }
    scanned = begin_ + offset;
  }
  ++line_number_;
  std::string_view line(buffer_.data() + begin_, end - begin_);
  consumed_ += static_cast<std::int64_t>(line.size() + (end < buffer_.size() ? 1 : 0));
  begin_ = end < buffer_.size() ? end + 1 : end;
  if (line.size() > max_line_bytes_) {
    fail("line of " + std::to_string(line.size()) + " bytes is longer than " +
         std::to_string(max_line_bytes_) + " bytes (raise max_line_bytes if this is intended)");
  }
  if (first_line_) {
    first_line_ = false;
    if (line.size() >= 3 && std::memcmp(line.data(), "\xEF\xBB\xBF", 3) == 0) line.remove_prefix(3);
  }
  std::size_t bad = 0;
  if (!valid_utf8(line, bad)) {
    const unsigned char b = static_cast<unsigned char>(line[bad]);
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", b);
    fail(std::string(b == 0 ? "NUL byte" : "invalid UTF-8 byte ") + (b == 0 ? "" : hex) +
         " at column " + std::to_string(bad + 1));
  }
  split_words(line, tokens);
  return true;
}

}  // namespace rnnlm
