#!/usr/bin/env bash
# Installs everything, builds the C++ engine with its GoogleTest suite (and compiles the CUDA
# sources when nvcc is present), then runs CTest and pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install.sh" --test
cd "$root"
jobs="$(nproc 2>/dev/null || echo 2)"

echo "==> building the C++ tests"
cmake -S . -B build/ctest -DCMAKE_BUILD_TYPE=Release -DDSSTNE_BUILD_PYTHON=OFF -DDSSTNE_BUILD_TESTS=ON >/dev/null
cmake --build build/ctest -j "$jobs"

echo "==> CTest"
(cd build/ctest && ctest --output-on-failure --no-tests=error -j "$jobs")

echo "==> pytest"
set +e
.venv/bin/python -m pytest -q tests/python
status=$?
set -e
# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
if [[ $status -ne 0 ]]; then
  echo "pytest failed with status $status"
  exit $status
fi
