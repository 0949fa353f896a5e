#!/usr/bin/env bash
# Gathers, on this (Debian, internet-connected) machine, what a run on the GPU machine needs and
# that machine lacks, into the git-ignored folders the device tool carries:
#   device/debs  Debian packages scripts/gpu_check.sh unpacks (OpenBLAS, nlohmann-json, GoogleTest)
#   device/ref   DSSTNE's reference configs and MovieLens sample (../shared stays behind)
#   .whl         netCDF4 and cftime wheels for the GPU machine's Python 3.12
# Run it once per machine; it leaves what is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

debs=(libopenblas0-pthread libopenblas-pthread-dev libopenblas-dev libopenblas0 libgfortran5
      nlohmann-json3-dev libgtest-dev googletest)
if ! ls device/debs/*.deb >/dev/null 2>&1; then
  mkdir -p device/debs
  (cd device/debs && apt-get download "${debs[@]}")
fi

if [[ ! -d device/ref ]]; then
  reference="${DSSTNE_REFERENCE_DIR:-../shared/dsstne-reference}"
  [[ -d $reference ]] || { echo "no reference folder at $reference" >&2; exit 1; }
  cp -r "$reference" device/ref
fi

if ! ls .whl/*.whl >/dev/null 2>&1; then
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
  platforms=()
  for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
             manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$tag")
  done
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d .whl netCDF4 cftime
fi
du -sh device .whl
