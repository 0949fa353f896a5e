#!/usr/bin/env bash
# Installs what dsstne needs on a Debian/Ubuntu machine: system packages through apt (only the
# missing ones), then a virtual environment in .venv with dsstne and its Python dependencies.
# Usage: scripts/install.sh [--test]   (--test adds GoogleTest, Open MPI, pytest and the rest of
# the test extra)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# OpenBLAS's OpenMP build shares the engine's threads (CMakeLists.txt says why).
packages=(g++ cmake pkg-config libopenblas-openmp-dev nlohmann-json3-dev python3-dev python3-venv)
# Tests add GoogleTest and Open MPI (the model-parallel tests run under mpirun).
if [[ "${1:-}" == "--test" ]]; then packages+=(libgtest-dev libopenmpi-dev openmpi-bin); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Python from elsewhere (pyenv, conda) brings its own headers and venv module.
if python3 -c "import venv, sysconfig, os; assert os.path.exists(sysconfig.get_paths()['include'] + '/Python.h')" 2>/dev/null; then
  missing=("${missing[@]/python3-dev}")
  missing=("${missing[@]/python3-venv}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]})); then
  echo "==> installing system packages: ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
extra=""
[[ "${1:-}" == "--test" ]] && extra="[test]"
echo "==> building and installing dsstne into .venv"
.venv/bin/python -m pip install -q ".${extra}"
