#!/usr/bin/env bash
# Build the sdist and the wheel (python -m build: the wheel is built from the sdist), install the
# wheel with its test and mpi extras into a fresh virtual environment on a PATH without any C/C++
# compiler, and run the demo and the test suite (the distributed tests included: they may not skip
# there) against the installed wheel, from a directory where the checkout's rnnlm_fast cannot be
# imported. Exits non-zero on any failure.
#
#   scripts/check_wheel.sh               # work in a new temporary directory, removed at the end
#   WHEEL_CHECK_DIR=/tmp/w scripts/check_wheel.sh    # work (and keep everything) there
#   PYTHON=python3.12 scripts/check_wheel.sh         # another interpreter
#   scripts/check_wheel.sh -x -k ngram               # arguments are passed on to pytest
#
# Dependencies that PyPI has as source only (kenlm, of the test extra) are built into wheels
# BEFORE the compilers are hidden, as a user's pip would have them cached or built: the check is
# that rnnlm-fast itself installs and runs without a compiler.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The interpreter itself (not a pyenv shim or a venv's link), usable once PATH changes below.
PY=$("${PYTHON:-python3}" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
if [[ -n "${WHEEL_CHECK_DIR:-}" ]]; then
    WORK=$WHEEL_CHECK_DIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rnnlm-wheel.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi
say() { echo "check_wheel: $*"; }

# 1. sdist and wheel, with `build` from a tool environment of its own.
say "building the sdist and the wheel in $WORK/dist"
"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q --upgrade pip build
rm -rf "$WORK/dist"
(cd "$ROOT" && "$WORK/tools/bin/python" -m build --outdir "$WORK/dist" . > "$WORK/build.log" 2>&1) \
    || { tail -40 "$WORK/build.log"; exit 1; }
SDIST=$(ls "$WORK"/dist/rnnlm_fast-*.tar.gz)
WHEEL=$(ls "$WORK"/dist/rnnlm_fast-*.whl)
say "built $(basename "$SDIST") and $(basename "$WHEEL")"
if grep -E -- "-march=native" "$WORK/build.log"; then
    say "the wheel was compiled with -march=native: it would not run on older CPUs"; exit 1
fi

# 2. Wheels of every dependency of the wheel and its test and mpi extras (compilers still available).
"$WORK/tools/bin/python" -m pip wheel -q --wheel-dir "$WORK/deps" "$WHEEL[test,mpi]"

# 3. A PATH without compilers: every program of the current PATH except C/C++ compilers.
NOCC=$WORK/nocc-bin
rm -rf "$NOCC" && mkdir -p "$NOCC"
IFS=: read -r -a dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
    [[ -d "$dir" ]] || continue
    for prog in "$dir"/*; do
        name=$(basename "$prog")
        case "$name" in
            cc|c++|cpp|gcc|g++|clang|clang++|icc|icpx|*-gcc|*-g++|*-gcc-[0-9]*|*-g++-[0-9]*|gcc-[0-9]*|g++-[0-9]*|clang-[0-9]*|clang++-[0-9]*|cc1*|c89*|c99*) continue ;;
        esac
        if [[ -f "$prog" && -x "$prog" && ! -e "$NOCC/$name" ]]; then ln -s "$prog" "$NOCC/$name"; fi
    done
done

# 4. A fresh environment on that PATH; nothing may be compiled (--only-binary, CC/CXX unusable).
(
    export PATH="$WORK/venv/bin:$NOCC" CC=/nonexistent/cc CXX=/nonexistent/c++
    unset PYTHONPATH
    for compiler in g++ gcc cc c++ clang clang++; do
        if command -v "$compiler" > /dev/null; then say "$compiler is still on PATH"; exit 1; fi
    done
    say "no compiler on PATH (command -v g++ gcc cc c++ clang: none found)"
    rm -rf "$WORK/venv"
    "$PY" -m venv "$WORK/venv"
    python -m pip install -q --no-index --only-binary :all: --find-links "$WORK/deps" "$WHEEL[test,mpi]"

    # 5. Tests, fuzz targets and the recipe (tests/test_recipe.py runs it) copied out of the checkout; pytest's configuration from pyproject.toml.
    rm -rf "$WORK/run" && mkdir -p "$WORK/run"
    cp -r "$ROOT/tests" "$ROOT/fuzz" "$ROOT/recipes" "$ROOT/pyproject.toml" "$WORK/run/"
    cd "$WORK/run"
    location=$(python -c "import rnnlm_fast, rnnlm_fast._core; print(rnnlm_fast.__file__)")
    case "$location" in
        "$WORK/venv/"*) say "rnnlm_fast imported from the wheel: $location" ;;
        *) say "rnnlm_fast imported from $location, not from the installed wheel"; exit 1 ;;
    esac
    # The BLAS: the package's import loads scipy_openblas32's library; the extension's rpath finds the
    # same file on its own (docs/blas.md)
    core=$(python -c "import rnnlm_fast._core as c; print(c.__file__)")
    # (ldd's output is read whole first: `ldd | grep -q` under pipefail fails when grep exits on the
    # first match and ldd, still writing, dies of SIGPIPE; the CI run of 2026-12-07 failed so)
    if command -v ldd > /dev/null; then
        libraries=$(ldd "$core")
        grep -q "libscipy_openblas.so => $WORK/venv/.*/scipy_openblas32/lib/" <<< "$libraries" \
            || { echo "$libraries"; say "the extension does not find OpenBLAS in the environment by its rpath"; exit 1; }
    fi
    say "BLAS: $(python -c "from rnnlm_fast import _core; print(_core.blas_name())")"
    rnnlm-fast --version
    rnnlm-fast demo --quiet
    export RNNLM_DATA=${RNNLM_DATA:-$ROOT/../shared/data}
    export RNNLM_FAST_REQUIRE_MPI=1  # the distributed tests (mpiexec -n 2 and -n 3) run here: none may skip
    python -m pytest tests -q -p no:cacheprovider "$@"
)
say "ok: the wheel installs and passes its tests without a compiler"
