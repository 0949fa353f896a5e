#!/usr/bin/env bash
# Installs everything, builds the C++ engine with its GoogleTest suite (and compiles the CUDA
# sources when nvcc is present), then runs CTest, CTest again on a sanitizer build, pytest and a
# bounded fuzzing pass.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install.sh" --test
cd "$root"
jobs="$(nproc 2>/dev/null || echo 2)"
# The multi-process tests run under mpirun; CI runs as root, which Open MPI refuses unless told.
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

echo "==> building the C++ tests"
cmake -S . -B build/ctest -DCMAKE_BUILD_TYPE=Release -DDSSTNE_BUILD_PYTHON=OFF -DDSSTNE_BUILD_TESTS=ON >/dev/null
cmake --build build/ctest -j "$jobs"

echo "==> CTest"
(cd build/ctest && ctest --output-on-failure --no-tests=error -j "$jobs")

echo "==> the C++ tests again under AddressSanitizer and UndefinedBehaviorSanitizer"
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSSTNE_ENABLE_CUDA=OFF \
  -DDSSTNE_BUILD_PYTHON=OFF -DDSSTNE_BUILD_TESTS=ON "-DCMAKE_CXX_FLAGS=$sanitize -O1" \
  "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" \
  "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null
cmake --build build/sanitize -j "$jobs"
(cd build/sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --no-tests=error -j "$jobs" -LE '^mpi$')
# Open MPI itself leaks at exit (its plugins' allocations): the tests under mpirun (label mpi)
# run with every sanitizer check but the leak report.
if [[ -n "$(cd build/sanitize && ctest -N -L '^mpi$' | grep 'Test *#')" ]]; then
  (cd build/sanitize && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$jobs" -L '^mpi$')
fi

# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
run_pytest() {
  set +e
  .venv/bin/python -m pytest -q "$@"
  local status=$?
  set -e
  if [[ $status -ne 0 ]]; then
    echo "pytest $* failed with status $status"
    exit $status
  fi
}

echo "==> pytest"
run_pytest tests/python

echo "==> fuzzing, a bounded number of cases per target (tests/fuzz/campaign.py runs long ones)"
DSSTNE_FUZZ_CASES="${DSSTNE_FUZZ_CASES:-150}" run_pytest tests/fuzz
