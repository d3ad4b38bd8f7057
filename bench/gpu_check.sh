#!/usr/bin/env bash
# The GPU checks of the CUDA build (issue #7) as one script, for a machine with an NVIDIA GPU
# (sized to finish in under 8 minutes on one H200): build both modules for this machine's
# Python, run the CUDA tests (kernels vs the NumPy reference, models vs the CPU path and vs
# PyTorch on the GPU), then the GPU benchmark rows. Logs and JSON go to $OUT (default
# /tmp/gpu_check). Run from the repository root:  bash bench/gpu_check.sh
set -euo pipefail
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"

# sm_90 only here to keep the build short; the default build adds sm_80 and PTX.
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DPYTRANSFORMER_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90-real -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" > "$OUT/build.log" 2>&1
SECONDS=0
ninja -C build/gpu >> "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
echo "build: ${SECONDS}s"
cp build/gpu/_core*.so build/gpu/_cuda*.so pytransformer/
"$PY" -c "import pytransformer as p; from pytransformer import _cuda; \
print('cuda_available', p.cuda_available(), _cuda.device_name(0), _cuda.runtime_error())"

SECONDS=0
"$PY" -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py tests/test_backends.py \
  tests/test_backends_cuda_wiring.py tests/test_backends_device_array.py 2>&1 | tee "$OUT/tests.log" | tail -30
echo "tests: ${SECONDS}s"

SECONDS=0
"$PY" bench/gpu_bench.py --workdir /tmp/gpu_bench --rounds 3 --repeat 3 \
  --json "$OUT/gpu_bench.json" 2> "$OUT/bench_progress.log" | tee "$OUT/gpu_bench.md"
echo "bench: ${SECONDS}s"
