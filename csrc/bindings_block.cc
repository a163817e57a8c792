// Bindings of block-synchronous training (block_trainer.h): its options, the epoch, the
// gradient of one block, and the BLAS the products run on.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "blas.h"
#include "block_trainer.h"

namespace rnnlm::binding {
namespace {

// BlockTrainOptions from itself or from a dict with exactly its fields.
BlockTrainOptions block_options(const py::object& o) {
  if (!py::isinstance<py::dict>(o)) return o.cast<BlockTrainOptions>();
  static const char* const kFields[] = {"lr",          "l2",   "clip_norm", "dropout", "batch",
                                        "steps", "independent", "seed", "threads"};
  const py::dict d = o.cast<py::dict>();
  for (auto item : d) {
    const std::string key = py::str(item.first);
    bool known = false;
    for (const char* f : kFields) known = known || key == f;
    if (!known) throw ConfigError("unknown block training option '" + key + "'");
  }
  auto get = [&](const char* name) -> py::object {
    if (!d.contains(name)) throw ConfigError(std::string("block training option '") + name + "' is missing");
    return d[name];
  };
  BlockTrainOptions r;
  r.lr = get("lr").cast<float>();
  r.l2 = get("l2").cast<float>();
  r.clip_norm = get("clip_norm").cast<float>();
  r.dropout = get("dropout").cast<float>();
  r.batch = get("batch").cast<int>();
  r.steps = get("steps").cast<int>();
  r.independent = get("independent").cast<bool>();
  r.seed = get("seed").cast<std::uint64_t>();
  r.threads = get("threads").cast<int>();
  return r;
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
  d["blocks"] = r.blocks;
  d["seconds"] = r.seconds;
  d["gemm_seconds"] = r.gemm_seconds;
  return d;
}

}  // namespace

void bind_block(py::module_& mod) {
  py::class_<BlockTrainOptions>(mod, "BlockTrainOptions",
                                "Options of one block-synchronous training epoch; every field is required.")
      .def(py::init([](float lr, float l2, float clip_norm, float dropout, int batch, int steps, bool independent,
                       std::uint64_t seed, int threads) {
             return BlockTrainOptions{lr, l2, clip_norm, dropout, batch, steps, independent, seed, threads};
           }),
           py::kw_only(), py::arg("lr"), py::arg("l2"), py::arg("clip_norm"), py::arg("dropout"), py::arg("batch"),
           py::arg("steps"), py::arg("independent"), py::arg("seed"), py::arg("threads"))
      .def_readwrite("lr", &BlockTrainOptions::lr)
      .def_readwrite("l2", &BlockTrainOptions::l2)
      .def_readwrite("clip_norm", &BlockTrainOptions::clip_norm)
      .def_readwrite("dropout", &BlockTrainOptions::dropout)
      .def_readwrite("batch", &BlockTrainOptions::batch)
      .def_readwrite("steps", &BlockTrainOptions::steps)
      .def_readwrite("independent", &BlockTrainOptions::independent)
      .def_readwrite("seed", &BlockTrainOptions::seed)
      .def_readwrite("threads", &BlockTrainOptions::threads)
      .def("validate", &BlockTrainOptions::validate, "Raises ConfigError when the engine cannot run with these.");

  mod.def("train_block_epoch", &train_block_epoch_py, py::arg("model"), py::arg("ids"), py::arg("offsets"),
          py::arg("options"), py::arg("progress") = py::none(),
          "One epoch of block-synchronous mini-batch training (options: BlockTrainOptions or a dict of its "
          "fields); updates the model in place. Returns a dict: logprob, words, processed, diverged, "
          "diverged_at, interrupted, blocks, seconds, gemm_seconds.");

  mod.def(
      "block_gradient",
      [](const Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets,
         const py::object& options) {
        check_corpus(m, ids, offsets);
        const BlockTrainOptions o = block_options(options);
        BlockTrainer trainer(m, o);
        auto grad = std::make_shared<Model>(m.vocab_size(), m.hidden(), m.class_begin(), m.cell(), m.direct_size(),
                                            m.direct_order(), m.direct_hash());
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
          const int saved = blas::threads();
          blas::set_threads(o.threads);
          replay = block_sgemm_replay(calls, &flops);
          blas::set_threads(saved);
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
      "gemm_flops, replay_seconds.");

}

}  // namespace rnnlm::binding
