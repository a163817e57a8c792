// Python bindings of the matrix kernels (csrc/gemm.h, kernels.h) on NumPy float32 arrays, for
// the kernel tests and benchmarks: binding glue, kept apart from bindings.cc so each file
// holds one job. No engine logic.
#include <string>
#include <vector>

#include "bindings.h"
#include "gemm.h"
#include "kernels.h"

namespace rnnlm::binding {
namespace {

// Size of `axis` of a 2-D float32 matrix (ConfigError for another shape or a size past int).
int dim(const CArray<float>& a, int axis, const char* what) {
  if (a.ndim() != 2 || a.shape(axis) > (1 << 30)) {
    throw ConfigError(std::string(what) + " must be a 2-D float32 array");
  }
  return static_cast<int>(a.shape(axis));
}

// A new float32 array of `shape`, filled by `kernel(data)` without the GIL.
template <typename Kernel>
CArray<float> released_into(std::vector<py::ssize_t> shape, Kernel&& kernel) {
  CArray<float> out(shape);
  float* data = out.mutable_data();
  py::gil_scoped_release nogil;
  kernel(data);
  return out;
}

}  // namespace

void bind_kernels(py::module_& mod) {
  mod.def(
      "matmul_nt",
      [](const CArray<float>& M, const CArray<float>& X) {
        const int rows = dim(M, 0, "M"), cols = dim(M, 1, "M"), n = dim(X, 0, "X");
        if (dim(X, 1, "X") != cols) throw ConfigError("matmul_nt: X must have as many columns as M");
        return released_into({n, rows}, [&](float* y) { matmul_nt(M.data(), rows, cols, X.data(), n, y); });
      },
      py::arg("M"), py::arg("X"), "X @ M.T with the engine's batched kernel.");
  mod.def(
      "matmul_nn",
      [](const CArray<float>& A, const CArray<float>& M) {
        const int n = dim(A, 0, "A"), k = dim(A, 1, "A"), cols = dim(M, 1, "M");
        if (dim(M, 0, "M") != k) throw ConfigError("matmul_nn: A's columns must equal M's rows");
        return released_into({n, cols},
                             [&](float* y) { matmul_nn(A.data(), n, k, M.data(), cols, y, false); });
      },
      py::arg("A"), py::arg("M"), "A @ M with the engine's batched kernel.");
  mod.def(
      "rank_k_update",
      [](CArray<float>& M, const CArray<float>& D, const CArray<float>& X, float lr, float keep) {
        const int rows = dim(M, 0, "M"), cols = dim(M, 1, "M"), k = dim(D, 0, "D");
        if (dim(D, 1, "D") != rows || dim(X, 0, "X") != k || dim(X, 1, "X") != cols) {
          throw ConfigError("rank_k_update: D must be k x rows, X k x cols");
        }
        float* m = M.mutable_data();
        py::gil_scoped_release nogil;
        rank_k_update(m, rows, cols, D.data(), X.data(), k, lr, keep);
      },
      py::arg("M"), py::arg("D"), py::arg("X"), py::arg("lr"), py::arg("keep"),
      "In place: M = keep * M + lr * D.T @ X.");
  mod.def(
      "matvec",
      [](const CArray<float>& M, const CArray<float>& x) {
        const int rows = dim(M, 0, "M"), cols = dim(M, 1, "M");
        if (x.ndim() != 1 || x.shape(0) != cols) {
          throw ConfigError("matvec: x must be a vector of M's columns");
        }
        return released_into({rows}, [&](float* y) { matvec(M.data(), rows, cols, x.data(), nullptr, y); });
      },
      py::arg("M"), py::arg("x"), "M @ x with the engine's one-vector kernel.");
  mod.def(
      "matvec_each",
      [](const CArray<float>& M, const CArray<float>& X) {
        const int rows = dim(M, 0, "M"), cols = dim(M, 1, "M"), n = dim(X, 0, "X");
        if (dim(X, 1, "X") != cols) throw ConfigError("matvec_each: X must have as many columns as M");
        return released_into({n, rows}, [&](float* y) {
          for (int i = 0; i < n; ++i) {
            matvec(M.data(), rows, cols, X.data() + static_cast<std::size_t>(i) * cols, nullptr,
                   y + static_cast<std::size_t>(i) * rows);
          }
        });
      },
      py::arg("M"), py::arg("X"),
      "X @ M.T one row at a time with the one-vector kernel, looped in C++ (the B=1 engine's "
      "products, timed without a Python call each).");
}

}  // namespace rnnlm::binding
