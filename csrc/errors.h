// Typed errors thrown by the engine; bindings.cc maps each to a class in rnnlm_fast/errors.py.
// The engine never exits, aborts or prints: a Python process must survive any bad input.
#pragma once

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
// Words and ids that do not belong to the model's vocabulary.
struct VocabularyError : Error {
  using Error::Error;
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
