// Typed errors thrown by the engine; bindings.cc maps each to a class in rnnlm_fast/errors.py.
// The engine never exits, aborts or prints: a Python process must survive any bad input.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace rnnlm {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A text file that cannot be used: missing words, invalid UTF-8, an absurd line...
struct CorpusError : Error {
  using Error::Error;
};
// A file that cannot be opened or read at all.
struct MissingFileError : Error {
  using Error::Error;
};
struct IoError : Error {
  using Error::Error;
};
// An option with an invalid value, or arrays of the wrong shape.
struct ConfigError : Error {
  using Error::Error;
};
// Words and ids that do not belong to the model's vocabulary, or a vocabulary that breaks
// its rules. `word` is the index of the word at fault and `other_word` that of a second word
// involved (the first of a duplicate), -1 where there is none; Python sees them as the
// exception's `word_index` and `other_word_index` (None for -1).
struct VocabularyError : Error {
  explicit VocabularyError(const std::string& what, std::int64_t word = -1, std::int64_t other_word = -1)
      : Error(what), word(word), other_word(other_word) {}
  std::int64_t word;
  std::int64_t other_word;
};
// NaN or Inf met during training.
struct DivergedError : Error {
  using Error::Error;
};
// The caller asked to stop (Ctrl-C) through the progress callback.
struct Interrupted : Error {
  using Error::Error;
};

}  // namespace rnnlm
