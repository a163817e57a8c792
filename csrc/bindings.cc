// The module: exception mapping, the engine's constants, vocabularies, encoding, models,
// scoring and decoding (training: bindings_training.cc; matrix kernels: bindings_kernels.cc).
// With those and bindings.h, the only files that see Python: conversions, GIL policy and
// exception mapping, no engine logic. Option values have no defaults in this layer (they live
// in rnnlm_fast/options.py and the package passes them all); only plumbing has: progress
// callbacks (None), train_epoch's return_positions (False), and block_momentum_step's scale (1)
// and addend (None). Every call that can run long releases the GIL; progress callbacks re-take
// it on the calling thread only, and also poll for Ctrl-C there.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "corpus.h"
#include "errors.h"
#include "generate.h"
#include "rnn.h"
#include "scorer.h"
#include "text_reader.h"
#include "vocab.h"

namespace py = pybind11;
using namespace rnnlm;
using namespace rnnlm::binding;

namespace {

// A NumPy view of a weight array that keeps its Model alive.
py::array_t<float> view(WeightArray& v, const std::vector<std::int64_t>& dims, py::handle owner) {
  std::vector<py::ssize_t> shape(dims.begin(), dims.end());
  std::vector<py::ssize_t> strides(shape.size(), sizeof(float));
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return py::array_t<float>(shape, strides, v.data(), owner);
}

// Python ints (or objects with __index__) -> signed integers of `bits` bits (32 or 64). A
// value out of range is a VocabularyError naming the item's index (a vocabulary's word); a
// non-integer a TypeError.
std::vector<std::int64_t> to_integers(const py::sequence& items, const char* what, int bits) {
  const std::int64_t hi = bits == 64 ? INT64_MAX : (std::int64_t{1} << (bits - 1)) - 1, lo = -hi - 1;
  std::vector<std::int64_t> out;
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    py::object item = items[i];
    if (!PyIndex_Check(item.ptr())) {
      throw py::type_error(std::string(what) + "[" + std::to_string(i) + "] must be an integer, not " +
                           std::string(Py_TYPE(item.ptr())->tp_name));
    }
    py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
    if (!index) throw py::error_already_set();
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (overflow != 0 || v < lo || v > hi) {
      throw VocabularyError("word " + std::to_string(i) + ": " + what + " " + std::string(py::str(index)) +
                                " does not fit in " + std::to_string(bits) + " bits",
                            static_cast<std::int64_t>(i));
    }
    out.push_back(v);
  }
  return out;
}


// The engine's encoders without the GIL (the file's with progress and Ctrl-C).
EncodedCorpus encode_file_py(const Vocab& vocab, const std::string& path, bool backward,
                             std::size_t max_line_bytes, py::object progress) {
  PythonProgress report(std::move(progress));
  EncodedCorpus corpus;
  run_released(report, [&] {
    corpus = encode_file(vocab, path, backward, max_line_bytes, [&](std::int64_t b) { return report(b); });
  });
  return corpus;
}

EncodedCorpus encode_sentences_py(const Vocab& vocab, const std::vector<std::string>& sentences,
                                  bool backward) {
  py::gil_scoped_release nogil;
  return encode_sentences(vocab, sentences, backward);
}

// {"ids", "mapped", "offsets", "oov", "order"}: `mapped` is the same array as `ids` when they
// are equal; `order` is None for a forward corpus.
py::dict corpus_dict(EncodedCorpus&& c) {
  py::dict d;
  py::object ids = to_numpy(std::move(c.ids));
  d["ids"] = ids;
  d["mapped"] = c.mapped_is_ids ? ids : py::object(to_numpy(std::move(c.mapped)));
  d["offsets"] = to_numpy(std::move(c.offsets));
  d["oov"] = c.oov;
  d["order"] = c.backward ? py::object(to_numpy(std::move(c.order))) : py::none();
  return d;
}

std::shared_ptr<Model> make_model(std::int32_t vocab_size, std::int32_t hidden,
                                  std::vector<std::int32_t> class_begin, const std::string& cell,
                                  std::uint64_t direct, int direct_order, const std::string& direct_hash,
                                  std::int32_t embedding) {
  return std::make_shared<Model>(vocab_size, hidden, std::move(class_begin), parse_cell(cell), direct,
                                 direct_order, parse_direct_hash(direct_hash), embedding);
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
      // The word indices travel as attributes, so a file reader can name the lines.
      auto index = [](std::int64_t i) { return i >= 0 ? py::object(py::int_(i)) : py::none(); };
      py::object exc = vocab_error(e.what());
      exc.attr("word_index") = index(e.word);
      exc.attr("other_word_index") = index(e.other_word);
      PyErr_SetObject(vocab_error.ptr(), exc.ptr());
    } catch (const DivergedError& e) {
      PyErr_SetString(diverged_error.ptr(), e.what());
    } catch (const Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    } catch (const Error& e) {
      PyErr_SetString(base_error.ptr(), e.what());
    }
  });

  // engine_limits.h and the scorer's chunking, as one table of names
  const std::pair<const char*, std::int64_t> limits[] = {
      {"MAX_HIDDEN", kMaxHidden},
      {"MAX_DIRECT_ORDER", kMaxDirectOrder},
      {"MAX_DIRECT_SIZE", static_cast<std::int64_t>(kMaxDirectSize)},
      {"MAX_BPTT", kMaxBptt},
      {"MAX_BPTT_BLOCK", kMaxBpttBlock},
      {"MAX_THREADS", kMaxThreads},
      {"MAX_STREAMS", kMaxStreams},
      {"MAX_BATCH", kMaxBatch},
      {"MAX_BLOCK_POSITIONS", kMaxBlockPositions},
      {"MAX_GRADIENT_WORDS", kMaxGradientWords},
      {"DEFAULT_MAX_LINE_BYTES", static_cast<std::int64_t>(kDefaultMaxLineBytes)},
      {"SCORE_CHUNK_SENTENCES", kScoreChunkSentences},
      {"SCORE_WARMUP_SENTENCES", kScoreWarmupSentences},
  };
  for (const auto& [name, value] : limits) mod.attr(name) = value;
  mod.attr("WHITESPACE") = py::str(kWhitespace);
  mod.attr("CELLS") = py::tuple(py::cast(std::vector<std::string>(kCellNames.begin(), kCellNames.end())));
  mod.attr("DIRECT_HASHES") =
      py::tuple(py::cast(std::vector<std::string>(kDirectHashNames.begin(), kDirectHashNames.end())));
  mod.attr("CLASS_METHODS") =
      py::tuple(py::cast(std::vector<std::string>(kClassMethodNames.begin(), kClassMethodNames.end())));
#ifdef _OPENMP
  mod.attr("HAS_OPENMP") = true;
#else
  mod.attr("HAS_OPENMP") = false;
#endif
  bind_training(mod);
  bind_block(mod);

  mod.def(
      "split_words",
      [](const std::string& text) {
        std::vector<std::string_view> words;
        split_words(text, words);
        return std::vector<std::string>(words.begin(), words.end());
      },
      py::arg("text"), "The words of `text` split at WHITESPACE, as the engine reads a line.");

  mod.def(
      "cell_gates", [](const std::string& cell) { return cell_gates(parse_cell(cell)); }, py::arg("cell"),
      "Rows of the recurrent matrix per hidden unit: 1 (sigmoid, tanh, relu), 3 (gru), 4 (lstm).");

  mod.def(
      "weight_shapes",
      [](std::int64_t vocab_size, std::int64_t hidden, std::int64_t classes, const std::string& cell,
         std::uint64_t direct, std::int64_t embedding) {
        py::dict d;
        for (const auto& w : weight_shapes(vocab_size, hidden, classes, parse_cell(cell), direct, embedding)) {
          d[w.name] = py::tuple(py::cast(w.shape));
        }
        return d;
      },
      py::arg("vocab_size"), py::arg("hidden"), py::arg("classes"), py::arg("cell"), py::arg("direct"),
      py::arg("embedding") = 0, "Name -> shape of a model's weights, in file order (the table Model allocates from).");

  py::class_<Vocab, std::shared_ptr<Vocab>>(mod, "Vocab")
      .def(py::init([](std::vector<std::string> words, const py::sequence& counts,
                       const py::sequence& word_class) {
             auto c = to_integers(counts, "count", 64);
             auto k = to_integers(word_class, "class", 32);
             return std::make_shared<Vocab>(std::move(words), std::move(c),
                                            std::vector<std::int32_t>(k.begin(), k.end()));
           }),
           py::arg("words"), py::arg("counts"), py::arg("word_class"))
      .def_property_readonly("size", &Vocab::size)
      .def_property_readonly("n_classes", &Vocab::n_classes)
      .def_property_readonly("unk_id", &Vocab::unk_id)
      .def_property_readonly("words", [](const Vocab& v) { return v.words(); })
      .def_property_readonly("counts", [](const Vocab& v) { return to_numpy(v.counts()); })
      .def_property_readonly("word_class", [](const Vocab& v) { return to_numpy(v.word_class()); })
      .def_property_readonly("class_begin", [](const Vocab& v) { return to_numpy(v.class_begin()); })
      .def("id", [](const Vocab& v, const std::string& w) { return v.id(w); }, py::arg("word"));

  mod.def(
      "build_vocab",
      [](const std::vector<std::string>& paths, std::int64_t min_count, std::int64_t max_size,
         int classes, const std::string& class_method, std::size_t max_line_bytes, py::object progress) {
        const ClassMethod method = parse_class_method(class_method);
        PythonProgress report(std::move(progress));
        WordCounter counter;
        std::shared_ptr<Vocab> vocab;
        run_released(report, [&] {
          counter.add_files(paths, max_line_bytes, [&](std::int64_t b) { return report(b); });
          vocab = std::make_shared<Vocab>(Vocab::from_counts(counter, min_count, max_size, classes, method));
        });
        return py::make_tuple(vocab, counter.tokens(), counter.lines(), counter.distinct());
      },
      py::arg("paths"), py::arg("min_count"), py::arg("max_size"), py::arg("classes"),
      py::arg("class_method"), py::arg("max_line_bytes"),
      py::arg("progress") = py::none(),
      "Counts words in text files and builds a vocabulary; returns (vocab, tokens, lines, distinct).");

  mod.def(
      "assign_classes",
      [](std::vector<std::int64_t> counts, int classes, const std::string& class_method) {
        return to_numpy(assign_classes(counts, classes, parse_class_method(class_method)));
      },
      py::arg("counts"), py::arg("classes"), py::arg("class_method"));

  mod.def(
      "encode_file",
      [](const Vocab& vocab, const std::string& path, bool backward, std::size_t max_line_bytes,
         py::object progress) {
        return corpus_dict(encode_file_py(vocab, path, backward, max_line_bytes, std::move(progress)));
      },
      py::arg("vocab"), py::arg("path"), py::arg("backward"),
      py::arg("max_line_bytes"), py::arg("progress") = py::none(),
      "Encodes a text file in a model's reading order: a dict of ids (int32, unknown words -1), "
      "mapped (unknown words as <unk>; the same array as ids when equal), offsets (int64), oov, "
      "and order (int64, text position of each stored position; None when forward).");

  mod.def(
      "encode_sentences",
      [](const Vocab& vocab, const std::vector<std::string>& sentences, bool backward) {
        return corpus_dict(encode_sentences_py(vocab, sentences, backward));
      },
      py::arg("vocab"), py::arg("sentences"), py::arg("backward"),
      "Encodes sentences (strings of whitespace-separated words, each followed by </s>); "
      "returns the dict of encode_file.");

  py::class_<Model, std::shared_ptr<Model>>(mod, "Model")
      .def(py::init(&make_model), py::arg("vocab_size"), py::arg("hidden"), py::arg("class_begin"),
           py::arg("cell"), py::arg("direct"), py::arg("direct_order"), py::arg("direct_hash"),
           py::arg("embedding") = 0)
      .def("init_random", &Model::init_random, py::arg("seed"))
      .def("copy", [](const Model& m) { return std::make_shared<Model>(m); })
      .def_property_readonly("vocab_size", &Model::vocab_size)
      .def_property_readonly("hidden", &Model::hidden)
      .def_property_readonly("n_classes", &Model::n_classes)
      .def_property_readonly("cell", [](const Model& m) { return std::string(cell_name(m.cell())); })
      .def_property_readonly("direct", &Model::direct_size)
      .def_property_readonly("embedding", &Model::embedding)
      .def_property_readonly("direct_order", &Model::direct_order)
      .def_property_readonly("direct_hash",
                             [](const Model& m) { return std::string(direct_hash_name(m.direct_hash())); })
      .def_property_readonly("class_begin", [](const Model& m) { return to_numpy(m.class_begin()); })
      .def(
          "arrays",
          [](py::object self) {
            Model& m = self.cast<Model&>();
            py::dict d;
            for (const auto& w : weight_shapes(m)) d[w.name] = view(m.*w.array, w.shape, self);
            return d;
          },
          "Writable NumPy views of the weights, by name as weight_shapes gives them (they keep the model "
          "alive).");

  mod.def(
      "score_positions",
      [](const Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets,
         bool independent, int threads, py::object progress) {
        check_corpus(m, ids, offsets);
        PythonProgress report(std::move(progress));
        std::vector<double> out(static_cast<std::size_t>(ids.shape(0)), 0.0);
        run_released(report, [&] {
          score_positions(m, ids.data(), offsets.data(), offsets.shape(0) - 1, independent, threads,
                          out.data(), [&](std::int64_t done) { return report(done); });
        });
        return to_numpy(std::move(out));
      },
      py::arg("model"), py::arg("ids"), py::arg("offsets"), py::arg("independent"),
      py::arg("threads"), py::arg("progress") = py::none(),
      "Natural-log probability of every position (0 where the id is -1).");

  // One word at a time (a decoder's calls): too short to be worth releasing the GIL.
  py::class_<DecoderState, std::shared_ptr<DecoderState>>(
      mod, "DecoderState",
      "A decoder's position in a sentence: recurrent state and the input word still to read.")
      .def(py::init([](const Model& m) { return std::make_shared<DecoderState>(m); }), py::arg("model"))
      .def("copy", [](const DecoderState& s) { return std::make_shared<DecoderState>(s); })
      .def("assign", [](DecoderState& s, const DecoderState& other) { s = other; }, py::arg("other"))
      .def_property_readonly("hidden", [](const DecoderState& s) { return to_numpy(s.st.h); })
      .def_property_readonly("cell_state", [](const DecoderState& s) { return to_numpy(s.st.c); })
      .def_property_readonly("pending", [](const DecoderState& s) { return s.pending; })
      .def_property_readonly("length", [](const DecoderState& s) { return s.length; });
  mod.def("begin_sentence", &begin_sentence, py::arg("state"), "The state at a sentence start.");
  mod.def("null_context", &null_context, py::arg("state"), "The reset state with no input word.");
  mod.def("score_step", &score_step, py::arg("model"), py::arg("state"), py::arg("word"),
          "ln P(word | state), advancing the state past the word (0 for word -1).");

  mod.def(
      "next_word_distribution",
      [](const Model& m, const CArray<std::int32_t>& context) {
        if (context.ndim() != 1) throw ConfigError("context must be a 1-D array");
        std::vector<float> out(static_cast<std::size_t>(m.vocab_size()));
        {
          py::gil_scoped_release nogil;
          next_word_distribution(m, context.data(), context.shape(0), out.data());
        }
        return to_numpy(std::move(out));
      },
      py::arg("model"), py::arg("context"),
      "P(w | </s> context) over the whole vocabulary, from the reset state (tests, generation).");

  mod.def(
      "generate",
      [](const Model& m, const std::vector<std::int32_t>& prefix, int n_sentences, int max_words,
         float temperature, std::uint64_t seed) {
        py::gil_scoped_release nogil;
        return generate(m, prefix, n_sentences, max_words, temperature, seed);
      },
      py::arg("model"), py::arg("prefix"), py::arg("n_sentences"), py::arg("max_words"),
      py::arg("temperature"), py::arg("seed"),
      "Samples sentences (lists of ids, without </s>) continuing `prefix`.");

  bind_kernels(mod);
  bind_blas(mod);
}
