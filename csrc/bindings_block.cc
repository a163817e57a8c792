// Bindings of block-synchronous training (block_trainer.h): its options, the epoch, the
// gradient of one block, and the BLAS the products run on.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "blas.h"
#include "block_trainer.h"

namespace rnnlm::binding {
namespace {

// BlockTrainOptions from itself or from a dict with exactly its fields (block_trainer.h's list).
BlockTrainOptions block_options(const py::object& o) {
  if (!py::isinstance<py::dict>(o)) return o.cast<BlockTrainOptions>();
  const py::dict d = o.cast<py::dict>();
  for (auto item : d) {
    const std::string key = py::str(item.first);
    if (std::find_if(std::begin(kBlockOptionNames), std::end(kBlockOptionNames),
                     [&](const char* n) { return key == n; }) == std::end(kBlockOptionNames)) {
      throw ConfigError("unknown block training option '" + key + "'");
    }
  }
  auto get = [&](const char* name) -> py::object {
    if (!d.contains(name)) throw ConfigError(std::string("block training option '") + name + "' is missing");
    return d[name];
  };
  BlockTrainOptions r;
#define RNNLM_TAKE(type, name, help) r.name = get(#name).cast<type>();
  RNNLM_BLOCK_OPTIONS(RNNLM_TAKE)
#undef RNNLM_TAKE
  return r;
}

// BlockTrainOptions from keywords: every field of block_trainer.h's list, by name, and nothing else.
BlockTrainOptions block_options_from(const py::kwargs& kw) {
  BlockTrainOptions o;
#define RNNLM_TAKE(type, name, help) o.name = option_keyword<type>(kw, "BlockTrainOptions", #name);
  RNNLM_BLOCK_OPTIONS(RNNLM_TAKE)
#undef RNNLM_TAKE
  reject_unknown_keywords(kw, "BlockTrainOptions", std::begin(kBlockOptionNames), std::end(kBlockOptionNames));
  return o;
}

// run_epoch_released's dict plus the block trainer's own figures.
py::dict with_block_figures(py::dict d, const BlockEpochStats& r) {
  d["blocks"] = r.blocks;
  d["seconds"] = r.seconds;
  d["gemm_seconds"] = r.gemm_seconds;
  return d;
}

py::dict train_block_epoch_py(Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets,
                              const py::object& options, py::object progress) {
  check_corpus(m, ids, offsets);
  const BlockTrainOptions o = block_options(options);
  BlockTrainer trainer(m, o);  // validates
  PythonProgress report(std::move(progress));
  BlockEpochStats r;
  py::dict d = run_epoch_released(report, [&] {
    r = trainer.train_epoch(m, ids.data(), offsets.data(), offsets.shape(0) - 1,
                            [&](std::int64_t done, double lp) { return report(done, lp); });
    return r.stats;
  });
  return with_block_figures(d, r);
}

// A part-wise block epoch and what it reads, kept alive together (distributed training's
// counterpart of EpochRun for batch > 1).
struct PyBlockEpochRun {
  std::shared_ptr<Model> model;
  CArray<std::int32_t> ids;
  CArray<std::int64_t> offsets;
  std::shared_ptr<UpdateMarks> marks;
  std::unique_ptr<BlockTrainer> trainer;
  BlockEpochStats stats;
};

}  // namespace

void bind_block(py::module_& mod) {
  py::class_<BlockTrainOptions> options(mod, "BlockTrainOptions",
                                        "Options of one block-synchronous training epoch; every field is "
                                        "required.");
  options.def(py::init(&block_options_from), "By keyword: every field below, each required.");
#define RNNLM_FIELD(type, name, help) options.def_readwrite(#name, &BlockTrainOptions::name, help);
  RNNLM_BLOCK_OPTIONS(RNNLM_FIELD)
#undef RNNLM_FIELD
  options.def("validate", &BlockTrainOptions::validate, "Raises ConfigError when the engine cannot run with these.");

  mod.def("train_block_epoch", &train_block_epoch_py, py::arg("model"), py::arg("ids"), py::arg("offsets"),
          py::arg("options"), py::arg("progress") = py::none(),
          "One epoch of block-synchronous mini-batch training (options: BlockTrainOptions or a dict of its "
          "fields); updates the model in place. Returns a dict: logprob, words, processed, diverged, "
          "diverged_at, interrupted, blocks, seconds, gemm_seconds.");

  py::class_<PyBlockEpochRun>(mod, "BlockEpochRun",
                              "One block-synchronous epoch over the sentences, run in parts that keep the "
                              "streams (EpochRun's counterpart for batch > 1).")
      .def(py::init([](std::shared_ptr<Model> m, CArray<std::int32_t> ids, CArray<std::int64_t> offsets,
                       const py::object& options, std::shared_ptr<UpdateMarks> marks) {
             check_corpus(*m, ids, offsets);
             if (marks && !marks->made_for(*m)) throw ConfigError("the update marks were made for another model");
             auto r = std::make_unique<PyBlockEpochRun>(PyBlockEpochRun{m, ids, offsets, marks, nullptr, {}});
             r->trainer = std::make_unique<BlockTrainer>(*m, block_options(options), marks.get());
             r->trainer->begin_epoch(*m, r->ids.data(), r->offsets.data(), r->offsets.shape(0) - 1);
             return r;
           }),
           py::arg("model"), py::arg("ids"), py::arg("offsets"), py::arg("options"), py::arg("marks") = nullptr)
      .def(
          "run",
          [](PyBlockEpochRun& r, std::int64_t part, std::int64_t parts, py::object progress) {
            if (parts < 1 || part < 1 || part > parts) throw ConfigError("part must be in 1..parts");
            const std::int64_t until = (r.ids.shape(0) * part + parts - 1) / parts;  // the last part: all
            PythonProgress report(std::move(progress));
            py::dict d = run_epoch_released(report, [&] {
              if (!r.trainer->epoch_done()) {
                r.trainer->train_until(*r.model, until, r.stats,
                                       [&](std::int64_t done, double lp) { return report(done, lp); });
              }
              return r.stats.stats;
            });
            return with_block_figures(d, r.stats);
          },
          py::arg("part"), py::arg("parts"), py::arg("progress") = py::none(),
          "Trains whole blocks until part/parts of the positions are processed (the last part: all); "
          "returns the epoch's totals so far (logprob, words, processed, diverged, diverged_at, "
          "interrupted, blocks, seconds, gemm_seconds).")
      .def_property_readonly("finished", [](const PyBlockEpochRun& r) { return r.trainer->epoch_done(); })
      .def_property_readonly("positions", [](const PyBlockEpochRun& r) { return r.ids.shape(0); });

  mod.def(
      "block_gradient",
      [](const Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets,
         const py::object& options) {
        check_corpus(m, ids, offsets);
        const BlockTrainOptions o = block_options(options);
        BlockTrainer trainer(m, o);
        auto grad = std::make_shared<Model>(m.zeros_like());
        double loss = 0;
        {
          py::gil_scoped_release nogil;
          loss = trainer.block_gradient(m, ids.data(), offsets.data(), offsets.shape(0) - 1, *grad);
        }
        return py::make_tuple(grad, loss);
      },
      py::arg("model"), py::arg("ids"), py::arg("offsets"), py::arg("options"),
      "(gradient, loss) of the first block (batch streams x steps from the reset state, no dropout, clipping "
      "or update): loss = -(1/batch) * sum ln P, gradient = dloss/dweights as a Model holding gradients.");

  mod.def(
      "profile_block_epoch",
      [](Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets, const py::object& options) {
        check_corpus(m, ids, offsets);
        const BlockTrainOptions o = block_options(options);
        BlockTrainer trainer(m, o);
        std::vector<GemmShape> calls;
        BlockEpochStats r;
        double replay = 0, flops = 0;
        {
          py::gil_scoped_release nogil;
          block_sgemm_record(&calls);
          try {
            r = trainer.train_epoch(m, ids.data(), offsets.data(), offsets.shape(0) - 1, nullptr);
          } catch (...) {
            block_sgemm_record(nullptr);
            throw;
          }
          block_sgemm_record(nullptr);
          blas::ScopedThreads blas_threads(1);  // as inside the epoch
          replay = block_sgemm_replay(calls, &flops);
        }
        py::dict d;
        d["processed"] = r.stats.processed;
        d["words"] = r.stats.words;
        d["logprob"] = r.stats.logprob;
        d["blocks"] = r.blocks;
        d["seconds"] = r.seconds;
        d["gemm_seconds"] = r.gemm_seconds;
        d["gemm_calls"] = calls.size();
        d["gemm_flops"] = flops;
        d["replay_seconds"] = replay;
        return d;
      },
      py::arg("model"), py::arg("ids"), py::arg("offsets"), py::arg("options"),
      "Benchmarks only: train_block_epoch recording its sgemm calls, then the same calls replayed alone. "
      "Returns processed, words, logprob, blocks, seconds, gemm_seconds (inside the epoch), gemm_calls, "
      "gemm_flops, replay_seconds; with threads > 1, of the calling thread's share of the calls only.");

}

}  // namespace rnnlm::binding
