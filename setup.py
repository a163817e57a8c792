"""Builds the one extension, rnnlm_fast._core, from the sorted sources in csrc/.

OpenMP is found by compiling and linking a probe; without it the build is serial (with a
warning). Kernels are multi-versioned for AVX-512 / AVX2 / baseline x86-64 inside the
source, so no -march flag is needed; RNNLM_NATIVE=1 adds -march=native for a local build,
RNNLM_BASELINE=1 builds the baseline kernels only (to test the code older CPUs run).

The products go through OpenBLAS from the scipy-openblas32 wheel (csrc/blas.cc, docs/blas.md): its
header and library are found in that package, installed at build time (pyproject.toml's build
requirements); at run time rnnlm_fast/__init__.py imports the package, which loads the library, and
the extension's rpath also points at the package's lib/ beside it in site-packages.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from glob import glob

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

PROBE = "#include <omp.h>\nint main() { return omp_get_max_threads() > 0 ? 0 : 1; }\n"


def compiler_command() -> str:
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or "c++"


def openmp_flags() -> tuple[list[str], list[str]]:
    """Compile and link a small OpenMP program; return (compile, link) flags that worked."""
    candidates = ((["-fopenmp"], ["-fopenmp"]), (["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
    for compile_flags, link_flags in candidates:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.cc")
            with open(src, "w") as f:
                f.write(PROBE)
            cmd = [compiler_command(), *compile_flags, src, "-o", os.path.join(tmp, "probe"), *link_flags]
            if subprocess.run(cmd, capture_output=True).returncode == 0:
                return compile_flags, link_flags
    print("WARNING: rnnlm-fast: OpenMP not found; building a serial (one-thread) engine", file=sys.stderr)
    return ["-fopenmp-simd"], []


def openblas() -> tuple[str, str, str]:
    """scipy-openblas32's include directory, library directory and library name (-l)."""
    try:
        import scipy_openblas32
    except ImportError:
        sys.exit("rnnlm-fast: the build needs scipy-openblas32 (pip install scipy-openblas32): the products "
                 "go through its OpenBLAS; pip installs it itself from pyproject.toml's build requirements")
    return scipy_openblas32.get_include_dir(), scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library()


# The installed wheel's layout: site-packages/rnnlm_fast/_core*.so beside site-packages/scipy_openblas32/lib.
RPATH_TO_OPENBLAS = ("@loader_path" if sys.platform == "darwin" else "$ORIGIN") + "/../scipy_openblas32/lib"

omp_compile, omp_link = openmp_flags()
blas_include, blas_lib_dir, blas_lib = openblas()
extra_compile = ["-O3", "-ffp-contract=fast", "-fno-math-errno", *omp_compile]
if os.environ.get("RNNLM_NATIVE") == "1":
    extra_compile.append("-march=native")
if os.environ.get("RNNLM_BASELINE") == "1":  # only the baseline kernels: to test what old CPUs run
    extra_compile.append("-DRNNLM_NO_CLONES")
if os.environ.get("RNNLM_DEBUG") == "1":
    extra_compile = ["-O1", "-g", "-fsanitize=address,undefined", *omp_compile]
    omp_link = [*omp_link, "-fsanitize=address,undefined"]

class BuildExt(build_ext):
    """pybind11's build_ext, but an in-place build replaces the library file instead of
    rewriting it: a running process that has the old one mapped must not see it change."""

    def copy_file(self, infile, outfile, *args, **kwargs):
        if os.path.isfile(outfile):
            os.unlink(outfile)
        return super().copy_file(infile, outfile, *args, **kwargs)


ext = Pybind11Extension(
    "rnnlm_fast._core",
    sorted(glob("csrc/*.cc")),
    include_dirs=["csrc", blas_include],
    depends=sorted(glob("csrc/*.h")),  # a changed header rebuilds every source
    cxx_std=17,
    extra_compile_args=extra_compile,
    extra_link_args=[*omp_link, f"-Wl,-rpath,{RPATH_TO_OPENBLAS}"],
    libraries=["z", blas_lib],
    library_dirs=[blas_lib_dir],
)

setup(ext_modules=[ext], cmdclass={"build_ext": BuildExt})
