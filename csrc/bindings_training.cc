// Bindings of training: the epoch's options (TrainOptions, generated from trainer.h's lists),
// an epoch (train_epoch) or one run in parts (EpochRun, which distributed training drives),
// the gradient checks, the marks of sparse updates (UpdateMarks), the packing of marked blocks
// of a weight array into a buffer and back, and BMUF's step (on whole arrays or marked
// blocks). Part of the binding layer with bindings.cc; no engine logic.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "batch_trainer.h"
#include "bindings.h"
#include "block_momentum.h"
#include "epoch_run.h"
#include "trainer.h"
#include "update_marks.h"

namespace rnnlm::binding {
namespace {

// An EpochRun and what it reads, kept alive together.
struct PyEpochRun {
  std::shared_ptr<Model> model;
  CArray<std::int32_t> ids;
  CArray<std::int64_t> offsets;
  std::shared_ptr<UpdateMarks> marks;
  std::unique_ptr<EpochRun> run;
};

using FloatArray = py::array_t<float, py::array::c_style>;

// The buffer of pack_blocks / unpack_blocks / block_momentum_step_blocks holds the blocks.
void check_blocks(std::size_t block, const CArray<std::int64_t>& idx, const FloatArray& buffer) {
  if (idx.ndim() != 1 || buffer.ndim() != 1) {
    throw ConfigError("block indices and the buffer must be 1-D arrays");
  }
  if (static_cast<std::size_t>(buffer.shape(0)) < static_cast<std::size_t>(idx.shape(0)) * block) {
    throw ConfigError("the buffer holds fewer than len(indices) * block floats");
  }
}

// TrainOptions from keywords: every field of trainer.h's lists, by name, and nothing else.
TrainOptions train_options_from(const py::kwargs& kw) {
  TrainOptions o;
#define RNNLM_TAKE(type, name, help) o.name = option_keyword<type>(kw, "TrainOptions", #name);
  RNNLM_EPOCH_OPTIONS(RNNLM_TAKE)
  RNNLM_RUN_OPTIONS(RNNLM_TAKE)
#undef RNNLM_TAKE
  reject_unknown_keywords(kw, "TrainOptions", std::begin(kTrainOptionNames), std::end(kTrainOptionNames));
  return o;
}

py::dict train_epoch_py(Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets,
                        const TrainOptions& o, py::object progress, bool return_positions) {
  check_corpus(m, ids, offsets);
  PythonProgress report(std::move(progress));
  std::vector<double> positions(return_positions ? static_cast<std::size_t>(ids.shape(0)) : 0, 0.0);
  py::dict r = run_epoch_released(report, [&] {
    return train_epoch(m, ids.data(), offsets.data(), offsets.shape(0) - 1, o,
                       [&](std::int64_t done, double lp) { return report(done, lp); },
                       return_positions ? positions.data() : nullptr);
  });
  if (return_positions) r["positions"] = to_numpy(std::move(positions));
  return r;
}

void bind_options_and_epoch(py::module_& mod) {
  const auto* const names = std::begin(kTrainOptionNames);
  mod.attr("EPOCH_OPTIONS") = py::tuple(py::cast(std::vector<std::string>(names, names + kEpochOptionCount)));
  py::class_<TrainOptions> options(
      mod, "TrainOptions",
      "Options of one training epoch, by keyword: EPOCH_OPTIONS, seed, threads and streams, every one "
      "required (the defaults live in rnnlm_fast/options.py).");
  options.def(py::init(&train_options_from));
#define RNNLM_FIELD(type, name, help) options.def_readwrite(#name, &TrainOptions::name, help);
  RNNLM_EPOCH_OPTIONS(RNNLM_FIELD)
  RNNLM_RUN_OPTIONS(RNNLM_FIELD)
#undef RNNLM_FIELD
  options.def("validate", &TrainOptions::validate,
              "Raises ConfigError when the engine cannot run with these.");

  mod.def("train_epoch", &train_epoch_py, py::arg("model"), py::arg("ids"), py::arg("offsets"),
          py::arg("options"), py::arg("progress") = py::none(), py::arg("return_positions") = false,
          "One epoch of online SGD with truncated BPTT over the sentences; updates the model in place; "
          "returns its totals (logprob, words, processed, diverged, diverged_at, interrupted). "
          "With return_positions, also ln P of every position before its update ('positions').");

  mod.def(
      "sentence_gradient",
      [](const Model& m, const CArray<std::int32_t>& ids) {
        if (ids.ndim() != 1) throw ConfigError("ids must be a 1-D array");
        const std::int64_t offsets[2] = {0, ids.shape(0)};
        check_ids(ids.data(), ids.shape(0), offsets, 2, m.vocab_size());
        py::gil_scoped_release nogil;
        return std::make_shared<Model>(sentence_gradient(m, ids.data(), ids.shape(0)));
      },
      py::arg("model"), py::arg("ids"),
      "Gradient of ln P(sentence) by full BPTT, as a Model holding gradients in its arrays.");
  mod.def(
      "batch_gradient",
      [](const Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets) {
        check_corpus(m, ids, offsets);
        py::gil_scoped_release nogil;
        return std::make_shared<Model>(batch_gradient(m, ids.data(), offsets.data(), offsets.shape(0) - 1));
      },
      py::arg("model"), py::arg("ids"), py::arg("offsets"),
      "Summed gradient of ln P over the sentences, scored side by side as one batch of streams with full "
      "BPTT.");
}

}  // namespace

void bind_training(py::module_& mod) {
  bind_options_and_epoch(mod);
  mod.attr("DIRECT_BLOCK") = UpdateMarks::kDirectBlock;

  py::class_<UpdateMarks, std::shared_ptr<UpdateMarks>>(
      mod, "UpdateMarks",
      "One byte per embedding row, per word class and per DIRECT_BLOCK floats of the direct table, "
      "set to 1 when training (EpochRun) writes there.")
      .def(py::init([](const Model& m) { return std::make_shared<UpdateMarks>(m); }), py::arg("model"))
      .def_property_readonly("embed_rows", &UpdateMarks::embed_rows)
      .def_property_readonly("classes", &UpdateMarks::classes)
      .def_property_readonly("direct_blocks", &UpdateMarks::direct_blocks)
      .def(
          "array",
          [](py::object self) {
            UpdateMarks& m = self.cast<UpdateMarks&>();
            return py::array_t<std::uint8_t>({static_cast<py::ssize_t>(m.size())}, {1}, m.data(), self);
          },
          "A writable uint8 view of all the marks (rows, classes, direct blocks); keeps them alive.")
      .def("clear", &UpdateMarks::clear);

  py::class_<PyEpochRun>(
      mod, "EpochRun", "One training epoch over the sentences, run in parts that keep every stream's state.")
      .def(py::init([](std::shared_ptr<Model> m, CArray<std::int32_t> ids, CArray<std::int64_t> offsets,
                       const TrainOptions& o, std::shared_ptr<UpdateMarks> marks) {
             check_corpus(*m, ids, offsets);
             auto r = std::make_unique<PyEpochRun>(PyEpochRun{m, ids, offsets, marks, nullptr});
             r->run = std::make_unique<EpochRun>(*m, r->ids.data(), r->offsets.data(),
                                                 r->offsets.shape(0) - 1, o, nullptr, marks.get());
             return r;
           }),
           py::arg("model"), py::arg("ids"), py::arg("offsets"), py::arg("options"), py::arg("marks"))
      .def(
          "run",
          [](PyEpochRun& r, std::int64_t part, std::int64_t parts, py::object progress) {
            PythonProgress report(std::move(progress));
            return run_epoch_released(report, [&] {
              return r.run->run(part, parts, [&](std::int64_t done, double lp) { return report(done, lp); });
            });
          },
          py::arg("part"), py::arg("parts"), py::arg("progress") = py::none(),
          "Advances every thread to part/parts of its shard; returns the epoch's totals so far "
          "(logprob, words, processed, diverged, diverged_at, interrupted).")
      .def_property_readonly("finished", [](const PyEpochRun& r) { return r.run->finished(); })
      .def_property_readonly("positions", [](const PyEpochRun& r) { return r.run->positions(); });

  mod.def(
      "pack_blocks",
      [](const FloatArray& array, std::size_t block, const CArray<std::int64_t>& idx, FloatArray& out) {
        check_blocks(block, idx, out);
        py::gil_scoped_release nogil;
        pack_blocks(array.data(), static_cast<std::size_t>(array.size()), block, idx.data(),
                    static_cast<std::size_t>(idx.shape(0)), out.mutable_data());
      },
      py::arg("array").noconvert(), py::arg("block"), py::arg("indices").noconvert(),
      py::arg("out").noconvert(),
      "Copies blocks `indices` of `block` floats of the flattened array into out, one after the other.");
  mod.def(
      "unpack_blocks",
      [](FloatArray& array, std::size_t block, const CArray<std::int64_t>& idx, const FloatArray& values,
         float scale) {
        check_blocks(block, idx, values);
        py::gil_scoped_release nogil;
        unpack_blocks(array.mutable_data(), static_cast<std::size_t>(array.size()), block, idx.data(),
                      static_cast<std::size_t>(idx.shape(0)), values.data(), scale);
      },
      py::arg("array").noconvert(), py::arg("block"), py::arg("indices").noconvert(),
      py::arg("values").noconvert(), py::arg("scale"),
      "Writes values * scale back into blocks `indices` of the flattened array (pack_blocks' reverse).");
  mod.def(
      "block_momentum_step",
      [](FloatArray& weights, FloatArray& start, FloatArray& delta, float momentum, float block_lr,
         bool look_ahead, float scale, std::optional<FloatArray> addend) {
        if (start.size() != weights.size() || delta.size() != weights.size() ||
            (addend && addend->size() != weights.size())) {
          throw ConfigError("weights, start, delta and addend must have the same size");
        }
        const float* plus = addend ? addend->data() : nullptr;
        py::gil_scoped_release nogil;
        block_momentum_step(weights.mutable_data(), plus, start.mutable_data(), delta.mutable_data(),
                            static_cast<std::size_t>(weights.size()), scale, momentum, block_lr, look_ahead);
      },
      py::arg("weights").noconvert(), py::arg("start").noconvert(), py::arg("delta").noconvert(),
      py::arg("momentum"), py::arg("block_lr"), py::arg("look_ahead"), py::arg("scale") = 1.0f,
      py::arg("addend").noconvert() = py::none(),
      "BMUF's step in place, in one pass: delta = momentum * delta + block_lr * ((weights + addend) * scale "
      "- start); "
      "weights = start + delta, then with look_ahead weights = start = that + momentum * delta.");
  mod.def(
      "block_momentum_step_blocks",
      [](FloatArray& weights, FloatArray& start, FloatArray& delta, std::size_t block,
         const CArray<std::int64_t>& idx, FloatArray& sums, float scale, float momentum, float block_lr,
         bool look_ahead) {
        if (start.size() != weights.size() || delta.size() != weights.size()) {
          throw ConfigError("weights, start and delta must have the same size");
        }
        check_blocks(block, idx, sums);
        py::gil_scoped_release nogil;
        block_momentum_step_blocks(weights.mutable_data(), start.mutable_data(), delta.mutable_data(),
                                   static_cast<std::size_t>(weights.size()), block, idx.data(),
                                   static_cast<std::size_t>(idx.shape(0)), sums.mutable_data(), scale,
                                   momentum, block_lr, look_ahead);
      },
      py::arg("weights").noconvert(), py::arg("start").noconvert(), py::arg("delta").noconvert(),
      py::arg("block"), py::arg("indices").noconvert(), py::arg("sums").noconvert(), py::arg("scale"),
      py::arg("momentum"), py::arg("block_lr"), py::arg("look_ahead"),
      "block_momentum_step on blocks `indices` of `block` floats only, their average being sums (packed "
      "as pack_blocks packs) * scale; the new weights go into weights and over sums. Other blocks keep "
      "their weights, start and delta.");
}

}  // namespace rnnlm::binding
