#!/usr/bin/env bash
# One GPU check of mfsr, under 5 minutes, everything under $OUT (default ./gpu_check_out):
#   nvidia-smi.txt        the device, driver and CUDA version
#   versions.txt          Python, NumPy, CuPy (and its CUDA runtime), Numba, nvcc
#   pytest.log/.xml       the device, CuPy kernel and CUDA compile tests (junit xml)
#   gpu_kernels.json/.log benchmarks/gpu_kernels.py --backend cupy --repeat 5
#   gpu_flow.json/.log    benchmarks/gpu_flow_accuracy.py --backend cupy: the batched
#                         device Lucas-Kanade against DIS (needs the sequences: copy
#                         ../shared/data/bigbuckbunny into a git-excluded folder, carry
#                         it and set MFSR_DATA to its parent)
#   summary.txt           one line per step: name, exit status, seconds
# Run from the repository root (or anywhere: it changes there). The project runs from
# the source tree on PYTHONPATH, not installed. A failing step does not stop the later
# ones; each runs under `timeout` (124 in summary.txt: it ran out of time). The script's
# own exit status is 0 only when every step passed. PYTHON picks the interpreter.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
OUT=${OUT:-./gpu_check_out}
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
PYTHON=${PYTHON:-python}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
FAILED=0

# step NAME LIMIT_S LOGFILE COMMAND...: run COMMAND under `timeout LIMIT_S`, stdout and
# stderr to LOGFILE, and append "NAME exit=STATUS seconds=S" to summary.txt.
step() {
    local name=$1 limit=$2 log=$3
    shift 3
    local start end status
    start=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" > "$log" 2>&1
    status=$?
    end=$(date +%s.%N)
    printf '%-12s exit=%-3s seconds=%s\n' "$name" "$status" \
        "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')" >> "$SUMMARY"
    [ "$status" -eq 0 ] || FAILED=1
    return 0
}

# budget, seconds: 15 + 20 + 140 + 90 + 30 = 295 s at most (on the H200 the pytest step
# took 70 s before the flow, IRLS, merge and raw-burst device tests joined it, the
# benchmark about 30 s)
step nvidia-smi 15 "$OUT/nvidia-smi.txt" nvidia-smi
step versions 20 "$OUT/versions.txt" "$PYTHON" -c '
import platform, sys
print("python", sys.version.replace("\n", " "), platform.platform())
for name in ("numpy", "numba", "cupy"):
    try:
        module = __import__(name)
        print(name, module.__version__)
    except Exception as exc:
        print(name, "not importable:", type(exc).__name__, exc)
try:
    import cupy
    print("cupy CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(),
          "driver", cupy.cuda.runtime.driverGetVersion(),
          "devices", cupy.cuda.runtime.getDeviceCount())
    print("device 0", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
except Exception as exc:
    print("cupy device query failed:", type(exc).__name__, exc)
import shutil, subprocess
nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
try:
    print(subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout.strip())
except OSError:
    print("nvcc not found")
'
step pytest 140 "$OUT/pytest.log" "$PYTHON" -m pytest -q -p no:cacheprovider -rfEs \
    --junitxml="$OUT/pytest.xml" \
    tests/test_gpu.py tests/test_gpu_flow.py tests/test_cuda_compile.py tests/test_kernels.py \
    tests/test_flow_kernels.py tests/test_irls_kernels.py tests/test_kernel_merge.py \
    tests/test_demosaic.py \
    -k "cupy or gpu or compile or nvrtc or device or flow"
step gpu_kernels 90 "$OUT/gpu_kernels.log" "$PYTHON" benchmarks/gpu_kernels.py \
    --backend cupy --repeat 5 --out "$OUT/gpu_kernels.json"
step gpu_flow 30 "$OUT/gpu_flow.log" "$PYTHON" benchmarks/gpu_flow_accuracy.py \
    --backend cupy --sequences bigbuckbunny --targets 5 15 --gaps 1 \
    --data "${MFSR_DATA:-$ROOT/../shared/data}" --out "$OUT/gpu_flow.json"

cat "$SUMMARY"
exit "$FAILED"
