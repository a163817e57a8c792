// The binding layer's shared helpers (bindings.cc, bindings_training.cc, bindings_kernels.cc):
// array types, vectors handed to NumPy, progress callbacks that poll for Ctrl-C, an epoch's
// stats as a dict, corpus checks.
#pragma once

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corpus.h"
#include "errors.h"
#include "rnn.h"
#include "trainer.h"

namespace rnnlm::binding {

namespace py = pybind11;

template <typename T>
using CArray = py::array_t<T, py::array::c_style>;

// Moves a vector into a NumPy array without copying its data.
template <typename T>
inline py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {sizeof(T)}, heap->data(), owner);
}
// A NumPy copy of a vector.
template <typename T>
inline py::array_t<T> to_numpy(const std::vector<T>& v) {
  return to_numpy(std::vector<T>(v));
}

// Wraps an optional Python callable so C++ can call it from the calling thread with the GIL
// released. Ctrl-C and exceptions raised by the callable stop the kernel; they are
// re-raised once the kernel has returned and the GIL is back.
class PythonProgress {
 public:
  explicit PythonProgress(py::object fn) : fn_(std::move(fn)) {}
  bool operator()(std::int64_t a, std::optional<double> b = std::nullopt) {
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

// Runs `kernel` without the GIL; an Interrupted caused by `report` (Ctrl-C, an exception in
// the callback) comes back as that Python exception.
// An options struct built from keywords (TrainOptions, BlockTrainOptions): keyword `name`, required,
// as the field's type; TypeErrors name the struct `owner`.
template <typename T>
T option_keyword(const py::kwargs& kw, const char* owner, const char* name) {
  if (!kw.contains(name)) throw py::type_error(std::string(owner) + ": missing keyword '" + name + "'");
  try {
    return kw[name].cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(owner) + ": '" + name + "' has the wrong type");
  }
}

// TypeError for a keyword that is none of the struct's fields [names, names_end).
inline void reject_unknown_keywords(const py::kwargs& kw, const char* owner, const char* const* names,
                                    const char* const* names_end) {
  for (auto item : kw) {
    const std::string key = py::str(item.first);
    if (std::find_if(names, names_end, [&](const char* n) { return key == n; }) == names_end) {
      throw py::type_error(std::string(owner) + ": unexpected keyword '" + key + "'");
    }
  }
}

template <typename Kernel>
void run_released(PythonProgress& report, Kernel&& kernel) {
  {
    py::gil_scoped_release nogil;
    try {
      kernel();
    } catch (const Interrupted&) {
      if (!report.has_pending()) throw;
    }
  }
  report.rethrow();
}

// Runs `kernel` (an epoch or a part of one, returning its EpochStats) without the GIL; returns
// the stats as {"logprob", "words", "processed", "diverged", "diverged_at", "interrupted"}.
// A Ctrl-C seen by `report` comes back as interrupted (the caller decides what to do); any
// other exception raised in the callback is raised here.
template <typename Kernel>
py::dict run_epoch_released(PythonProgress& report, Kernel&& kernel) {
  EpochStats st;
  {
    py::gil_scoped_release nogil;
    st = kernel();
  }
  py::dict d;
  d["logprob"] = st.logprob;
  d["words"] = st.words;
  d["processed"] = st.processed;
  d["diverged"] = st.diverged;
  d["diverged_at"] = st.diverged_at;
  d["interrupted"] = st.interrupted;
  if (st.interrupted && report.has_pending()) {
    try {
      report.rethrow();
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_KeyboardInterrupt)) throw;
    }
  }
  return d;
}

// Shapes of the caller's arrays (conversion), then the engine's check of their contents.
inline void check_corpus(const Model& m, const CArray<std::int32_t>& ids,
                         const CArray<std::int64_t>& offsets) {
  if (ids.ndim() != 1 || offsets.ndim() != 1) throw ConfigError("ids and offsets must be 1-D arrays");
  check_ids(ids.data(), ids.shape(0), offsets.data(), offsets.shape(0), m.vocab_size());
}
// Training: options, epochs (whole or in parts), gradient checks, the distributed helpers
// (bindings_training.cc).
void bind_training(py::module_& mod);
// Block-synchronous training (bindings_block.cc).
void bind_block(py::module_& mod);
// The matrix kernels on NumPy arrays, for tests and benchmarks (bindings_kernels.cc).
void bind_kernels(py::module_& mod);
void bind_blas(py::module_& mod);  // bindings_blas.cc

}  // namespace rnnlm::binding
