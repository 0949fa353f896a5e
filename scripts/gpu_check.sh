#!/usr/bin/env bash
# The GPU-machine run (see DEVELOPERS.md): build with the CUDA backend for sm_90, run CTest and
# pytest on the GPU (GPU tests fail instead of skipping), then the benchmarks (MovieLens training,
# predict against predict_topk, saving and loading) and the per-kernel benchmark (GB/s of the
# sparse, loss, top-K and update kernels at the wide and MovieLens shapes). Logs go to $OUT.
# Debian packages the machine lacks (OpenBLAS, nlohmann-json, GoogleTest) travel as .deb files in
# device/debs and are unpacked into a private prefix; scripts/gpu_carry.sh gathers them (and the
# netCDF4 wheels in .whl, DSSTNE's reference files in device/ref) on a machine with internet.
# The quality step compares the recommendations of precision bf16 with fp32 (dsstne evaluate,
# Recall@20 on DSSTNE's MovieLens sample).
# The wide step times the 1M-item recommender (benchmarks/bench_wide.py) beside its floors and
# PyTorch.
# The alexnet step times DSSTNE's AlexNet config (benchmarks/bench_alexnet.py: batch 128, generated
# 224×224×3 images) beside PyTorch on cuDNN in deterministic mode, fp32 and TF32.
# Usage: scripts/gpu_check.sh [build|test|bench|kernels|wide|alexnet|quality|all]...
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-/tmp/dsstne-out}"
mkdir -p "$OUT"
steps=("${@:-all}")
cmake_args=(-DCMAKE_CUDA_ARCHITECTURES=90 -DDSSTNE_CUDA_BACKEND=ON)
# A compiler that links libstdc++ statically gives libdsstne and the Python extension each their
# own copy, which breaks streams and exceptions between them: prefer the system's g++.
if [[ -x /usr/bin/g++ ]]; then
  export CC=/usr/bin/gcc CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++
fi
if [[ ! -f /usr/include/x86_64-linux-gnu/cblas.h || ! -d /usr/include/nlohmann ]]; then
  # The machine lacks them: unpack the carried .deb files into a private prefix.
  prefix="$PWD/build/sysroot"
  libdir=$prefix/usr/lib/x86_64-linux-gnu
  if [[ ! -d $prefix ]]; then
    mkdir -p "$prefix"
    for f in device/debs/*.deb; do dpkg -x "$f" "$prefix"; done
  fi
  export LD_LIBRARY_PATH="$libdir/openblas-pthread:$libdir:${LD_LIBRARY_PATH:-}"
  cmake_args+=(-DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_LIBRARY_PATH="$libdir/openblas-pthread"
               -DDSSTNE_CBLAS_INCLUDE="$prefix/usr/include/x86_64-linux-gnu/openblas-pthread")
fi
has() { [[ " ${steps[*]} " == *" $1 "* || " ${steps[*]} " == *" all "* ]]; }
status=0

site="$PWD/build/gpu-site"
if has build; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
  # One build serves CTest and Python: the extension and libdsstne are installed into $site.
  { cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDSSTNE_BUILD_PYTHON=ON \
      -DPython_EXECUTABLE="$(command -v python3)" "${cmake_args[@]}" \
    && cmake --build build/gpu -j "$(nproc)" \
    && cmake --install build/gpu --prefix "$site" \
    && cp -r python/dsstne/. "$site/dsstne/"; } \
    >"$OUT/build.log" 2>&1 || { echo "build failed"; tail -60 "$OUT/build.log"; exit 1; }
  ldd "$site/dsstne/libdsstne.so" | grep -q libstdc++ \
    || echo "warning: libdsstne links libstdc++ statically ($CXX)"
fi
export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
# The `dsstne` command (pip's console script; this build installs no scripts) for the examples.
mkdir -p build/gpu-bin
printf '#!/bin/sh\nexec python3 -m dsstne.cli "$@"\n' > build/gpu-bin/dsstne
chmod +x build/gpu-bin/dsstne
export PATH="$PWD/build/gpu-bin:$PATH"
# DSSTNE's reference configs travel as device/ref when carried (../shared stays behind).
[[ -d device/ref && -z "${DSSTNE_REFERENCE_DIR:-}" ]] && export DSSTNE_REFERENCE_DIR="$PWD/device/ref"

if has test; then
  (cd build/gpu && DSSTNE_REQUIRE_GPU=1 ctest --output-on-failure -j 4) >"$OUT/ctest.log" 2>&1 \
    || status=1
  grep -E "tests passed|tests failed|Failed|\*\*\*" "$OUT/ctest.log" | head -40
  DSSTNE_DEVICE=cuda DSSTNE_REQUIRE_GPU=1 python3 -m pytest -q -p no:cacheprovider tests/python \
    >"$OUT/pytest.log" 2>&1 || status=1
  grep -E "passed|failed|Error" "$OUT/pytest.log" | tail -30
fi
if has bench; then
  build/gpu/tests/cpp/dsstne_tests --gtest_also_run_disabled_tests \
    --gtest_filter='*DISABLED_Timing*' 2>&1 | grep -vE "^\[ *(RUN|OK) " | tee "$OUT/topk_timing.log"
  # PyTorch beside dsstne only when asked (BENCH_TORCH=1): it adds minutes of compilation.
  torch_flag=()
  [[ "${BENCH_TORCH:-0}" == 1 ]] && torch_flag=(--torch)
  PYTHONUNBUFFERED=1 python3 benchmarks/bench_movielens.py --device cuda "${torch_flag[@]}" \
    --json "$OUT/movielens.json" 2>&1 | tee "$OUT/bench.log"
  PYTHONUNBUFFERED=1 python3 benchmarks/bench_predict.py --device cuda \
    --json "$OUT/predict.json" 2>&1 | tee -a "$OUT/bench.log"
  PYTHONUNBUFFERED=1 python3 benchmarks/bench_save.py --repeat 3 2>&1 | tee -a "$OUT/bench.log"
fi
if has kernels; then
  # benchmarks/kernels/bench_kernels, which the build step makes with the tests; its progress and
  # errors go to stderr, the table to $OUT/kernels_<preset>.md.
  bench_kernels=build/gpu/benchmarks/kernels/bench_kernels
  if [[ -x $bench_kernels ]]; then
    for preset in wide movielens; do
      "$bench_kernels" --backend cuda --preset "$preset" --json "$OUT/kernels_$preset.json" \
        | tee "$OUT/kernels_$preset.md" || status=1
    done
  else
    echo "$bench_kernels is missing: run the build step first"
    status=1
  fi
fi
if has wide; then
  PYTHONUNBUFFERED=1 python3 benchmarks/bench_wide.py --preset "${WIDE_PRESET:-1m}" \
    --json "$OUT/wide.json" 2>&1 | tee "$OUT/wide.log" || status=1
fi
if has alexnet; then
  PYTHONUNBUFFERED=1 python3 benchmarks/bench_alexnet.py --device cuda \
    --json "$OUT/alexnet.json" 2>&1 | tee "$OUT/alexnet.log" || status=1
fi
if has quality; then
  # dae_sigmoid.json (Tanh 1500, Adam) on DSSTNE's MovieLens sample, five seeds, fp32 then bf16.
  sample="${DSSTNE_REFERENCE_DIR:-../shared/dsstne-reference}/data/movielens_input_1024.txt"
  for precision in ${QUALITY_PRECISIONS:-fp32 bf16}; do
    dsstne evaluate -r "$sample" --seeds 11,12,13,14,15 -k 10,20,50 --no-baselines --force \
      --device cuda --precision "$precision" -c "$(python3 -m dsstne.examples --path dae_sigmoid.json)" \
      --optimizer adam -alpha 0.001 -mu 0.9 -mu1 0.999 -lambda 0 -b 128 -e 100 \
      --json "$OUT/quality_$precision.json" 2>&1 | tee "$OUT/quality_$precision.log" || status=1
  done
fi
exit $status
