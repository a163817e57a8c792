// The binding layer's shared helpers (bindings.cc, bindings_distributed.cc): array types,
// vectors handed to NumPy, progress callbacks that poll for Ctrl-C, corpus checks.
#pragma once

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "corpus.h"
#include "errors.h"
#include "rnn.h"

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

// Shapes of the caller's arrays (conversion), then the engine's check of their contents.
inline void check_corpus(const Model& m, const CArray<std::int32_t>& ids, const CArray<std::int64_t>& offsets) {
  if (ids.ndim() != 1 || offsets.ndim() != 1) throw ConfigError("ids and offsets must be 1-D arrays");
  check_ids(ids.data(), ids.shape(0), offsets.data(), offsets.shape(0), m.vocab_size());
}
// The distributed-training classes and functions (bindings_distributed.cc).
void bind_distributed(py::module_& mod);
// Block-synchronous training (bindings_block.cc).
void bind_block(py::module_& mod);

}  // namespace rnnlm::binding
