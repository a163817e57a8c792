"""Builds the one extension, rnnlm_fast._core, from the sorted sources in csrc/.

OpenMP is found by compiling and linking a probe; without it the build is serial (with a
warning). Kernels are multi-versioned for AVX-512 / AVX2 / baseline x86-64 inside the
source, so no -march flag is needed; RNNLM_NATIVE=1 adds -march=native for a local build,
RNNLM_BASELINE=1 builds the baseline kernels only (to test the code older CPUs run).
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
    for compile_flags, link_flags in ((["-fopenmp"], ["-fopenmp"]), (["-Xpreprocessor", "-fopenmp"], ["-lomp"])):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.cc")
            with open(src, "w") as f:
                f.write(PROBE)
            cmd = [compiler_command(), *compile_flags, src, "-o", os.path.join(tmp, "probe"), *link_flags]
            if subprocess.run(cmd, capture_output=True).returncode == 0:
                return compile_flags, link_flags
    print("WARNING: rnnlm-fast: OpenMP not found; building a serial (one-thread) engine", file=sys.stderr)
    return ["-fopenmp-simd"], []


omp_compile, omp_link = openmp_flags()
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
    include_dirs=["csrc"],
    depends=sorted(glob("csrc/*.h")),  # a changed header rebuilds every source
    cxx_std=17,
    extra_compile_args=extra_compile,
    extra_link_args=omp_link,
    libraries=["z"],
)

setup(ext_modules=[ext], cmdclass={"build_ext": BuildExt})
