// The only file that sees Python: conversions, GIL policy and exception mapping.
// Every call that can run long releases the GIL; progress callbacks re-take it on the
// calling thread only, and also poll for Ctrl-C there.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "class_softmax.h"
#include "corpus.h"
#include "errors.h"
#include "rnn.h"
#include "scorer.h"
#include "text_reader.h"
#include "trainer.h"
#include "vocab.h"

namespace py = pybind11;
using namespace rnnlm;

namespace {

template <typename T>
using CArray = py::array_t<T, py::array::c_style>;

// Moves a vector into a NumPy array without copying its data.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {sizeof(T)}, heap->data(), owner);
}

// A NumPy view of a weight vector that keeps its Model alive.
py::array_t<float> view(WeightArray& v, std::vector<py::ssize_t> shape, py::handle owner) {
  std::vector<py::ssize_t> strides(shape.size(), sizeof(float));
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return py::array_t<float>(shape, strides, v.data(), owner);
}

// Wraps an optional Python callable so C++ can call it from the calling thread with the GIL
// released. Ctrl-C and exceptions raised by the callable stop the kernel; they are
// re-raised once the kernel has returned and the GIL is back.
class PythonProgress {
 public:
  explicit PythonProgress(py::object fn) : fn_(std::move(fn)) {}
  bool operator()(std::int64_t a, std::optional<double> b) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      pending_ = std::make_unique<py::error_already_set>();
      return false;
    }
    if (fn_.is_none()) return true;
    try {
      py::object r = b ? fn_(a, *b) : fn_(a);
      return r.is_none() || r.cast<bool>();
    } catch (py::error_already_set& e) {
      pending_ = std::make_unique<py::error_already_set>(std::move(e));
      return false;
    }
  }
  // Re-raises a Ctrl-C or callback exception caught during the kernel. Needs the GIL.
  void rethrow() {
    if (pending_) {
      auto e = std::move(pending_);
      throw std::move(*e);
    }
  }
  bool has_pending() const { return pending_ != nullptr; }

 private:
  py::object fn_;
  std::unique_ptr<py::error_already_set> pending_;
};

void check_ids(const Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets) {
  if (ids.ndim() != 1 || offsets.ndim() != 1) throw ConfigError("ids and offsets must be 1-D arrays");
  const auto n = offsets.shape(0);
  if (n < 2) throw ConfigError("offsets must hold at least one sentence (two entries)");
  const std::int64_t* off = offsets.data();
  if (off[0] != 0 || off[n - 1] != ids.shape(0)) {
    throw ConfigError("offsets must start at 0 and end at len(ids)");
  }
  for (py::ssize_t i = 0; i + 1 < n; ++i) {
    if (off[i + 1] <= off[i]) throw ConfigError("sentence " + std::to_string(i) + " is empty in offsets");
  }
  const std::int32_t* p = ids.data();
  const std::int32_t V = m.vocab_size();
  for (py::ssize_t k = 0; k < ids.shape(0); ++k) {
    if (p[k] < -1 || p[k] >= V) {
      throw VocabularyError("word id " + std::to_string(p[k]) + " at position " + std::to_string(k) +
                            " is outside the model's vocabulary of " + std::to_string(V) + " words");
    }
  }
}

ClassMethod parse_class_method(const std::string& name) {
  if (name == "sqrt") return ClassMethod::kSqrtFrequency;
  if (name == "frequency") return ClassMethod::kFrequency;
  throw ConfigError("unknown class method '" + name + "' (expected 'sqrt' or 'frequency')");
}

py::tuple corpus_to_python(EncodedCorpus&& c) {
  const std::int64_t oov = c.oov;
  return py::make_tuple(to_numpy(std::move(c.ids)), to_numpy(std::move(c.offsets)), oov);
}

}  // namespace

PYBIND11_MODULE(_core, mod) {
  mod.doc() = "rnnlm-fast engine (private; use the rnnlm_fast package)";

  // Engine errors -> the package's exception hierarchy.
  py::module_ errors = py::module_::import("rnnlm_fast.errors");
  static py::object corpus_error = errors.attr("CorpusError");
  static py::object missing_error = errors.attr("MissingFileError");
  static py::object config_error = errors.attr("ConfigError");
  static py::object vocab_error = errors.attr("VocabularyError");
  static py::object diverged_error = errors.attr("DivergenceError");
  static py::object base_error = errors.attr("RnnlmError");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const CorpusError& e) {
      PyErr_SetString(corpus_error.ptr(), e.what());
    } catch (const MissingFileError& e) {
      PyErr_SetString(missing_error.ptr(), e.what());
    } catch (const ConfigError& e) {
      PyErr_SetString(config_error.ptr(), e.what());
    } catch (const VocabularyError& e) {
      PyErr_SetString(vocab_error.ptr(), e.what());
    } catch (const DivergedError& e) {
      PyErr_SetString(diverged_error.ptr(), e.what());
    } catch (const Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    } catch (const Error& e) {
      PyErr_SetString(base_error.ptr(), e.what());
    }
  });

  mod.attr("DEFAULT_MAX_LINE_BYTES") = kDefaultMaxLineBytes;
  mod.attr("SCORE_CHUNK_SENTENCES") = kScoreChunkSentences;
  mod.attr("SCORE_WARMUP_SENTENCES") = kScoreWarmupSentences;
#ifdef _OPENMP
  mod.attr("HAS_OPENMP") = true;
#else
  mod.attr("HAS_OPENMP") = false;
#endif

  py::class_<Vocab, std::shared_ptr<Vocab>>(mod, "Vocab")
      .def(py::init([](std::vector<std::string> words, std::vector<std::int64_t> counts,
                       std::vector<std::int32_t> word_class) {
             return std::make_shared<Vocab>(std::move(words), std::move(counts), std::move(word_class));
           }),
           py::arg("words"), py::arg("counts"), py::arg("word_class"))
      .def_property_readonly("size", &Vocab::size)
      .def_property_readonly("n_classes", &Vocab::n_classes)
      .def_property_readonly("unk_id", &Vocab::unk_id)
      .def_property_readonly("words", [](const Vocab& v) { return v.words(); })
      .def_property_readonly("counts", [](const Vocab& v) { return to_numpy(std::vector<std::int64_t>(v.counts())); })
      .def_property_readonly("word_class", [](const Vocab& v) { return to_numpy(std::vector<std::int32_t>(v.word_class())); })
      .def_property_readonly("class_begin", [](const Vocab& v) { return to_numpy(std::vector<std::int32_t>(v.class_begin())); })
      .def("id", [](const Vocab& v, const std::string& w) { return v.id(w); }, py::arg("word"));

  mod.def(
      "build_vocab",
      [](const std::vector<std::string>& paths, std::int64_t min_count, std::int64_t max_size,
         int classes, const std::string& class_method, std::size_t max_line_bytes, py::object progress) {
        const ClassMethod method = parse_class_method(class_method);
        PythonProgress report(std::move(progress));
        WordCounter counter;
        std::int64_t bytes_before = 0;
        std::shared_ptr<Vocab> vocab;
        {
          py::gil_scoped_release nogil;
          try {
            for (const auto& path : paths) {
              std::int64_t last = 0;
              counter.add_file(path, max_line_bytes, [&](std::int64_t b) {
                last = b;
                return report(bytes_before + b, std::nullopt);
              });
              bytes_before += last;
            }
            vocab = std::make_shared<Vocab>(Vocab::from_counts(counter, min_count, max_size, classes, method));
          } catch (const Interrupted&) {
            if (!report.has_pending()) throw;
          }
        }
        report.rethrow();
        return py::make_tuple(vocab, counter.tokens(), counter.lines(), counter.distinct());
      },
      py::arg("paths"), py::arg("min_count") = 1, py::arg("max_size") = 0, py::arg("classes") = 100,
      py::arg("class_method") = "sqrt", py::arg("max_line_bytes") = kDefaultMaxLineBytes,
      py::arg("progress") = py::none(),
      "Counts words in text files and builds a vocabulary; returns (vocab, tokens, lines, distinct).");

  mod.def(
      "assign_classes",
      [](std::vector<std::int64_t> counts, int classes, const std::string& class_method) {
        return to_numpy(assign_classes(counts, classes, parse_class_method(class_method)));
      },
      py::arg("counts"), py::arg("classes"), py::arg("class_method") = "sqrt");

  mod.def(
      "encode_file",
      [](const Vocab& vocab, const std::string& path, bool map_unknown, std::size_t max_line_bytes,
         py::object progress) {
        PythonProgress report(std::move(progress));
        EncodedCorpus corpus;
        {
          py::gil_scoped_release nogil;
          try {
            corpus = encode_file(vocab, path, map_unknown, max_line_bytes,
                                 [&](std::int64_t b) { return report(b, std::nullopt); });
          } catch (const Interrupted&) {
            if (!report.has_pending()) throw;
          }
        }
        report.rethrow();
        return corpus_to_python(std::move(corpus));
      },
      py::arg("vocab"), py::arg("path"), py::arg("map_unknown") = true,
      py::arg("max_line_bytes") = kDefaultMaxLineBytes, py::arg("progress") = py::none(),
      "Encodes a text file: returns (ids int32, offsets int64, oov count).");

  mod.def(
      "encode_sentences",
      [](const Vocab& vocab, const std::vector<std::string>& sentences, bool map_unknown) {
        EncodedCorpus corpus;
        {
          py::gil_scoped_release nogil;
          std::vector<std::string> words;
          for (const auto& s : sentences) {
            words.clear();
            std::size_t i = 0;
            const std::size_t n = s.size();
            auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
            while (i < n) {
              while (i < n && space(s[i])) ++i;
              const std::size_t w = i;
              while (i < n && !space(s[i])) ++i;
              if (i > w) words.emplace_back(s, w, i - w);
            }
            encode_words(vocab, words, map_unknown, corpus);
          }
        }
        return corpus_to_python(std::move(corpus));
      },
      py::arg("vocab"), py::arg("sentences"), py::arg("map_unknown") = true,
      "Encodes sentences (strings of whitespace-separated words), each followed by </s>.");

  py::class_<Model, std::shared_ptr<Model>>(mod, "Model")
      .def(py::init([](std::int32_t vocab_size, std::int32_t hidden, std::vector<std::int32_t> class_begin,
                       const std::string& cell, std::uint64_t direct_size, int direct_order) {
             return std::make_shared<Model>(vocab_size, hidden, std::move(class_begin), parse_cell(cell),
                                            direct_size, direct_order);
           }),
           py::arg("vocab_size"), py::arg("hidden"), py::arg("class_begin"), py::arg("cell") = "sigmoid",
           py::arg("direct_size") = 0, py::arg("direct_order") = 0)
      .def("init_random", &Model::init_random, py::arg("seed"))
      .def("copy", [](const Model& m) { return std::make_shared<Model>(m); })
      .def_property_readonly("vocab_size", &Model::vocab_size)
      .def_property_readonly("hidden", &Model::hidden)
      .def_property_readonly("n_classes", &Model::n_classes)
      .def_property_readonly("cell", [](const Model& m) { return std::string(cell_name(m.cell())); })
      .def_property_readonly("direct_size", &Model::maxent_size)
      .def_property_readonly("direct_order", &Model::maxent_order)
      .def_property_readonly("class_begin", [](const Model& m) { return to_numpy(std::vector<std::int32_t>(m.class_begin())); })
      .def(
          "arrays",
          [](py::object self) {
            Model& m = self.cast<Model&>();
            const py::ssize_t V = m.vocab_size(), H = m.hidden(), C = m.n_classes(), GH = m.gates() * m.hidden();
            py::dict d;
            d["embed"] = view(m.embed, {V, GH}, self);
            d["recurrent"] = view(m.recurrent, {GH, H}, self);
            d["hidden_bias"] = view(m.hidden_bias, {GH}, self);
            d["class_w"] = view(m.class_w, {C, H}, self);
            d["class_b"] = view(m.class_b, {C}, self);
            d["word_w"] = view(m.word_w, {V, H}, self);
            d["word_b"] = view(m.word_b, {V}, self);
            if (!m.maxent.empty()) d["direct"] = view(m.maxent, {static_cast<py::ssize_t>(m.maxent.size())}, self);
            return d;
          },
          "Writable NumPy views of the weights, by name (they keep the model alive).");

  mod.def(
      "train_epoch",
      [](Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets, float lr,
         float beta, float gradient_cutoff, int bptt, int bptt_block, bool independent, int threads,
         py::object progress, bool return_positions, float dropout, float input_dropout, std::uint64_t seed) {
        check_ids(m, ids, offsets);
        TrainOptions o;
        o.lr = lr;
        o.l2 = beta;
        o.gradient_cutoff = gradient_cutoff;
        o.bptt = bptt;
        o.bptt_block = bptt_block;
        o.independent = independent;
        o.threads = threads;
        o.dropout = dropout;
        o.input_dropout = input_dropout;
        o.seed = seed;
        PythonProgress report(std::move(progress));
        EpochStats st;
        std::vector<double> positions(return_positions ? static_cast<std::size_t>(ids.shape(0)) : 0, 0.0);
        {
          py::gil_scoped_release nogil;
          st = train_epoch(m, ids.data(), offsets.data(), offsets.shape(0) - 1, o,
                           [&](std::int64_t done, double lp) { return report(done, lp); },
                           return_positions ? positions.data() : nullptr);
        }
        py::dict r;
        if (return_positions) r["positions"] = py::array_t<double>(static_cast<py::ssize_t>(positions.size()),
                                                                 positions.data());
        r["logprob"] = st.logprob;
        r["words"] = st.words;
        r["processed"] = st.processed;
        r["diverged"] = st.diverged;
        r["diverged_at"] = st.diverged_at;
        r["interrupted"] = st.interrupted;
        // A Ctrl-C seen by the callback is reported as interrupted; the caller decides.
        if (st.interrupted && report.has_pending()) {
          try {
            report.rethrow();
          } catch (py::error_already_set& e) {
            if (!e.matches(PyExc_KeyboardInterrupt)) throw;
          }
        }
        return r;
      },
      py::arg("model"), py::arg("ids"), py::arg("offsets"), py::arg("lr") = 0.1f, py::arg("beta") = 1e-6f,
      py::arg("gradient_cutoff") = 15.0f, py::arg("bptt") = 4, py::arg("bptt_block") = 10,
      py::arg("independent") = false, py::arg("threads") = 1, py::arg("progress") = py::none(),
      py::arg("return_positions") = false, py::arg("dropout") = 0.0f, py::arg("input_dropout") = 0.0f,
      py::arg("seed") = 1,
      "One epoch of online SGD with truncated BPTT over the sentences; updates the model in place. "
      "With return_positions, also ln P of every position before its update ('positions').");

  mod.def(
      "score_positions",
      [](const Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets,
         bool independent, int threads, py::object progress) {
        check_ids(m, ids, offsets);
        PythonProgress report(std::move(progress));
        std::vector<double> out(static_cast<std::size_t>(ids.shape(0)), 0.0);
        {
          py::gil_scoped_release nogil;
          try {
            score_positions(m, ids.data(), offsets.data(), offsets.shape(0) - 1, independent, threads,
                            out.data(), [&](std::int64_t done) { return report(done, std::nullopt); });
          } catch (const Interrupted&) {
            if (!report.has_pending()) throw;
          }
        }
        report.rethrow();
        return to_numpy(std::move(out));
      },
      py::arg("model"), py::arg("ids"), py::arg("offsets"), py::arg("independent") = true,
      py::arg("threads") = 1, py::arg("progress") = py::none(),
      "Natural-log probability of every position (0 where the id is -1).");

  mod.def(
      "next_word_distribution",
      [](const Model& m, const CArray<std::int32_t>& context) {
        for (py::ssize_t k = 0; k < context.shape(0); ++k) {
          const std::int32_t w = context.data()[k];
          if (w < -1 || w >= m.vocab_size()) throw VocabularyError("context id out of range");
        }
        ScoringState st(m);
        st.reset();
        std::int32_t in = 0;
        for (py::ssize_t k = 0; k <= context.shape(0); ++k) {
          st.step(m, in);
          if (k < context.shape(0)) in = context.data()[k];
        }
        std::vector<float> out(static_cast<std::size_t>(m.vocab_size()));
        output_distribution(m, st.h.data(), st.ngram.data(), st.out, out.data());
        return to_numpy(std::move(out));
      },
      py::arg("model"), py::arg("context"),
      "P(w | </s> context) over the whole vocabulary, from the reset state (tests, generation).");

  mod.def(
      "generate",
      [](const Model& m, const std::vector<std::int32_t>& prefix, int n_sentences, int max_words,
         float temperature, std::uint64_t seed) {
        std::vector<std::vector<std::int32_t>> out;
        {
          py::gil_scoped_release nogil;
          Rng rng(seed);
          for (int i = 0; i < n_sentences; ++i) out.push_back(sample_sentence(m, prefix, max_words, temperature, rng));
        }
        return out;
      },
      py::arg("model"), py::arg("prefix"), py::arg("n_sentences") = 1, py::arg("max_words") = 100,
      py::arg("temperature") = 1.0f, py::arg("seed") = 1,
      "Samples sentences (lists of ids, without </s>) continuing `prefix`.");

  mod.def(
      "sentence_gradient",
      [](const Model& m, const CArray<std::int32_t>& ids) {
        CArray<std::int64_t> offsets(2);
        offsets.mutable_data()[0] = 0;
        offsets.mutable_data()[1] = ids.shape(0);
        check_ids(m, ids, offsets);
        return std::make_shared<Model>(sentence_gradient(m, ids.data(), ids.shape(0)));
      },
      py::arg("model"), py::arg("ids"),
      "Gradient of ln P(sentence) by full BPTT, as a Model holding gradients in its arrays.");
}
