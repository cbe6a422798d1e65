"""The CUDA C kernels compile, checked on machines without a GPU.

- ``nvcc`` compiles every ``mfsr/kernels/cuda/*.cu`` once, for sm_80 (A100) and sm_90
  (H100), warnings as errors, and every kernel the CuPy module asks for is in the PTX in
  both dtypes. Skipped with a reason when ``nvcc`` is absent.
- The inlined text CuPy compiles at run time goes through NVRTC when CuPy is installed.

Their results against the reference are checked in ``tests/test_kernels.py`` (the same
sources built as host code) and ``tests/test_gpu.py`` (on a device).
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest
from cuda_host import find_program

from mfsr.kernels import cuda

CUDA_DIR = os.path.dirname(cuda.__file__)
ARCHS = ("80", "90")


NVCC = find_program(os.environ.get("NVCC", "nvcc"), "/usr/local/cuda/bin/nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc not found: install the CUDA toolkit "
                                "or set NVCC to compile-check the CUDA kernels")


# ---------------------------------------------------------------- nvcc compile check

@pytest.fixture(scope="module")
def ptx(tmp_path_factory):
    """Compile each source once with nvcc; return {source: {arch: ptx text}} or errors."""
    out = {}
    for name in cuda.SOURCES:
        build = tmp_path_factory.mktemp(f"nvcc_{name}")
        gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in ARCHS]
        cmd = [NVCC, "-std=c++17", "-c", "-Werror", "all-warnings", "-I", CUDA_DIR, *gencode,
               "--keep", "--keep-dir", str(build), os.path.join(CUDA_DIR, f"{name}.cu"),
               "-o", str(build / f"{name}.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            out[name] = " ".join(cmd) + "\n" + proc.stdout + proc.stderr
            continue
        out[name] = {a: (build / f"{name}.compute_{a}.ptx").read_text() for a in ARCHS}
    return out


@needs_nvcc
@pytest.mark.parametrize("name", cuda.SOURCES)
def test_cuda_source_compiles_for_sm80_and_sm90(name, ptx):
    result = ptx[name]
    assert isinstance(result, dict), result
    wanted = {f"{f}_{s}" for f, src in cuda.KERNELS.items() if src == name
              for s in cuda.SUFFIXES.values()}
    for arch, text in result.items():
        entries = set(re.findall(r"\.entry\s+(\w+)\(", text))
        assert wanted <= entries, f"sm_{arch}: missing {sorted(wanted - entries)}"
        assert re.search(rf"\.target\s+sm_{arch}\b", text)


def test_sources_inline_the_shared_header():
    for name in cuda.SOURCES:
        text = cuda.source(name)
        assert "#include \"" not in text
        assert text.count("typedef long long mfsr_index;") == 1
    with pytest.raises(ValueError, match="unknown CUDA source"):
        cuda.source("nope")



def _nvrtc():
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
    except Exception as exc:  # noqa: BLE001 - CuPy or libnvrtc missing, any error
        return None, f"CuPy's NVRTC is not usable here: {type(exc).__name__}: {exc}"
    return nvrtc, ""


@pytest.mark.parametrize("name", cuda.SOURCES)
def test_inlined_source_compiles_with_nvrtc(name):
    """What CuPy compiles at run time (the inlined text), through NVRTC, no device needed."""
    nvrtc, why = _nvrtc()
    if nvrtc is None:
        pytest.skip(why)
    for arch in ARCHS:
        prog = nvrtc.createProgram(cuda.source(name), f"{name}.cu", [], [])
        try:
            nvrtc.compileProgram(prog, ["-std=c++17", f"--gpu-architecture=compute_{arch}"])
        except Exception:  # noqa: BLE001 - NVRTCError; the log says why
            pytest.fail(nvrtc.getProgramLog(prog))
        ptx = nvrtc.getPTX(prog)
        ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
        entries = set(re.findall(r"\.entry\s+(\w+)\(", ptx))
        assert {f"{f}_f32" for f, s in cuda.KERNELS.items() if s == name} <= entries
        nvrtc.destroyProgram(prog)
