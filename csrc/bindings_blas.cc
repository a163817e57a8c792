// Python bindings of the kept BLAS (blas.h) on NumPy float32 arrays: test hooks that check its
// results against NumPy, and timers of its products for the benchmarks' yardstick (bench_blas.py).
// Binding glue only, kept apart from bindings.cc so each file holds one job.
#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include "bindings.h"
#include "blas.h"

namespace rnnlm::binding {
namespace {

// The BLAS test hooks take arrays as they are (noconvert): C-contiguous float32, else a TypeError.
void check_blas_operand(const CArray<float>& a, const char* what) {
  if (a.ndim() != 2 || a.shape(0) > (1 << 30) || a.shape(1) > (1 << 30)) {
    throw ConfigError(std::string("blas_sgemm: ") + what + " must be a 2-D float32 array");
  }
}

// Seconds per call of f over `repeats` calls after one warm-up call; the GIL released. Wall time, or
// with cpu_time the calling thread's CPU time (one library thread on a shared machine: the time the
// thread was preempted is not counted).
template <typename F>
double seconds_per_call(int repeats, bool cpu_time, F f) {
  if (repeats < 1) throw ConfigError("blas_time: repeats must be >= 1");
  py::gil_scoped_release nogil;
  const auto now = [cpu_time] {
    timespec ts;
    clock_gettime(cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  f();
  const double start = now();
  for (int i = 0; i < repeats; ++i) f();
  return (now() - start) / repeats;
}

std::vector<float> operand(long long size, int salt) {
  if (size < 0 || size > (1LL << 31)) throw ConfigError("blas_time: sizes must be >= 0 and the operands < 8 GB");
  std::vector<float> v(static_cast<std::size_t>(size));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.01f * static_cast<float>(static_cast<int>((i * 7 + salt) % 23) - 11);
  return v;
}

}  // namespace

void bind_blas(py::module_& mod) {
  mod.def("blas_name", [] { return std::string(blas::name()); },
          "The BLAS the engine's products go through: library, version and the core it dispatched to.");
  mod.def("blas_threads", [] { return blas::threads(); }, "Threads the BLAS may use inside one call.");
  mod.def("blas_set_threads", [](int n) { blas::set_threads(n); }, py::arg("n"),
          "Set the threads the BLAS may use inside one call (process-wide; 1 when the extension loads).");
  mod.def("blas_sgemm", [](const CArray<float>& a, const CArray<float>& b, py::object c, bool trans_a, bool trans_b,
                           float alpha, float beta) {
    check_blas_operand(a, "a");
    check_blas_operand(b, "b");
    const int m = static_cast<int>(a.shape(trans_a ? 1 : 0)), k = static_cast<int>(a.shape(trans_a ? 0 : 1));
    const int n = static_cast<int>(b.shape(trans_b ? 0 : 1));
    if (b.shape(trans_b ? 1 : 0) != k) throw ConfigError("blas_sgemm: op(a)'s columns must equal op(b)'s rows");
    CArray<float> out;
    if (c.is_none()) {
      out = CArray<float>({m, n});
      if (beta != 0.0f) throw ConfigError("blas_sgemm: beta != 0 needs c");
    } else {
      if (!CArray<float>::check_(c)) throw ConfigError("blas_sgemm: c must be a C-contiguous float32 array");
      out = py::reinterpret_borrow<CArray<float>>(c);
      if (out.ndim() != 2 || out.shape(0) != m || out.shape(1) != n) throw ConfigError("blas_sgemm: c must be m x n");
    }
    float* cp = out.mutable_data();
    const int lda = static_cast<int>(a.shape(1)), ldb = static_cast<int>(b.shape(1));
    {
      py::gil_scoped_release nogil;
      blas::sgemm(trans_a, trans_b, m, n, k, alpha, a.data(), std::max(lda, 1), b.data(), std::max(ldb, 1), beta, cp,
                  std::max(n, 1));
    }
    return out;
  }, py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c") = py::none(), py::arg("trans_a") = false,
     py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
     "alpha * op(a) @ op(b) + beta * c through the kept BLAS; c (updated in place and returned) or a new array.");
  mod.def("blas_sgemv", [](const CArray<float>& a, const CArray<float>& x, py::object y, bool trans_a, float alpha,
                           float beta) {
    check_blas_operand(a, "a");
    const int m = static_cast<int>(a.shape(0)), n = static_cast<int>(a.shape(1));
    const int len_x = trans_a ? m : n, len_y = trans_a ? n : m;
    if (x.ndim() != 1 || x.shape(0) != len_x) throw ConfigError("blas_sgemv: x must be a vector of op(a)'s columns");
    CArray<float> out;
    if (y.is_none()) {
      out = CArray<float>({len_y});
      if (beta != 0.0f) throw ConfigError("blas_sgemv: beta != 0 needs y");
    } else {
      if (!CArray<float>::check_(y)) throw ConfigError("blas_sgemv: y must be a C-contiguous float32 array");
      out = py::reinterpret_borrow<CArray<float>>(y);
      if (out.ndim() != 1 || out.shape(0) != len_y) throw ConfigError("blas_sgemv: y must be a vector of op(a)'s rows");
    }
    float* yp = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      blas::sgemv(trans_a, m, n, alpha, a.data(), std::max(n, 1), x.data(), beta, yp);
    }
    return out;
  }, py::arg("a").noconvert(), py::arg("x").noconvert(), py::arg("y") = py::none(), py::arg("trans_a") = false,
     py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
     "alpha * op(a) @ x + beta * y through the kept BLAS; y (updated in place and returned) or a new array.");
  mod.def("blas_time_sgemm", [](int m, int n, int k, bool trans_a, bool trans_b, float beta, int repeats,
                                bool cpu_time) {
    const std::vector<float> a = operand(1LL * m * k, 1), b = operand(1LL * k * n, 2);
    std::vector<float> c = operand(1LL * m * n, 3);
    const int lda = std::max(trans_a ? m : k, 1), ldb = std::max(trans_b ? k : n, 1);
    return seconds_per_call(repeats, cpu_time, [&] {
      blas::sgemm(trans_a, trans_b, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, beta, c.data(), std::max(n, 1));
    });
  }, py::arg("m"), py::arg("n"), py::arg("k"), py::arg("trans_a") = false, py::arg("trans_b") = false,
     py::arg("beta") = 0.0f, py::arg("repeats") = 10, py::arg("cpu_time") = false,
     "Seconds per call of the kept BLAS's sgemm at one shape (operands made and timed in C++, no Python per call;\n"
     "cpu_time: the calling thread's CPU time instead of wall time, for one library thread).");
  mod.def("blas_time_sgemv", [](int m, int n, bool trans_a, int repeats, bool cpu_time) {
    const std::vector<float> a = operand(1LL * m * n, 1), x = operand(trans_a ? m : n, 2);
    std::vector<float> y = operand(trans_a ? n : m, 3);
    return seconds_per_call(repeats, cpu_time, [&] {
      blas::sgemv(trans_a, m, n, 1.0f, a.data(), std::max(n, 1), x.data(), 0.0f, y.data());
    });
  }, py::arg("m"), py::arg("n"), py::arg("trans_a") = false, py::arg("repeats") = 10, py::arg("cpu_time") = false,
     "Seconds per call of the kept BLAS's sgemv at one shape (timed in C++; cpu_time as blas_time_sgemm's).");
}

}  // namespace rnnlm::binding
