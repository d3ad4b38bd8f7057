"""Builds csrc/cuda for the host emulator with g++: the kernel test program (kernels_test.cpp)
and the real bindings (csrc/cuda/module.cpp) as an extension module `_cuda`. Sources compile in
parallel; used by tests/test_cuda_emulated.py, or by hand:

    python tests/cuda_emulator/build_emulator.py BUILD_DIR && BUILD_DIR/kernels_test
"""

import concurrent.futures
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import rewrite_launches  # noqa: E402

# No FMA contraction: the references are plain C++, and the kernels' fmaf calls stay fmaf.
FLAGS = ["-std=c++17", "-O1", "-fPIC", "-ffp-contract=off", "-w", "-pthread",
         "-include", "cuda_runtime.h", f"-I{HERE / 'include'}", f"-I{REPO / 'csrc'}"]


# The kernel test program: main() and the other kernels, attention, the emulator's own checks.
TESTS = ["kernels_test.cpp", "attention_test.cpp", "emulator_test.cpp"]


def compiler():
    return os.environ.get("CXX") or shutil.which("g++")


def _compile(cxx, source, obj, extra):
    cmd = [cxx, *FLAGS, *extra, "-c", str(source), "-o", str(obj)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{result.stderr}")
    return obj


def _python_flags():
    import pybind11

    # A pybind11 ABI id of its own: a real pytransformer._cuda in the same process registers
    # the same C++ types (Buffer, ...), which would otherwise clash.
    return [f"-I{pybind11.get_include()}", f"-I{sysconfig.get_paths()['include']}",
            '-DPYBIND11_COMPILER_TYPE="_cuda_emulator"']


def build(build_dir, module=True):
    """Compiles into build_dir; returns (kernel test executable, extension module or None)."""
    cxx = compiler()
    build_dir = pathlib.Path(build_dir)
    kernels = rewrite_launches.rewrite_dir(REPO / "csrc" / "cuda", build_dir / "src")
    common = [*kernels, HERE / "runtime.cpp", HERE / "fake_device.cpp",
              REPO / "csrc" / "cuda" / "view.cpp"]
    tests = [HERE / name for name in TESTS]
    jobs = [(src, []) for src in [*common, *tests]]
    if module:
        jobs.append((REPO / "csrc" / "cuda" / "module.cpp", _python_flags()))
    obj_dir = build_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    # The biggest first (module.cpp, pybind11): the others fill the remaining cores meanwhile.
    jobs.sort(key=lambda job: job[0].name != "module.cpp")
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        futures = {src.name: pool.submit(_compile, cxx, src, obj_dir / f"{src.stem}.o", extra)
                   for src, extra in jobs}
        objs = {name: future.result() for name, future in futures.items()}
    common_objs = [str(objs[src.name]) for src in common]
    test = build_dir / "kernels_test"
    _link(cxx, [*common_objs, *(str(objs[src.name]) for src in tests)], test, [])
    extension = None
    if module:
        extension = build_dir / f"_cuda{sysconfig.get_config_var('EXT_SUFFIX')}"
        _link(cxx, [*common_objs, str(objs["module.cpp"])], extension, ["-shared"])
    return test, extension


def _link(cxx, objs, target, extra):
    cmd = [cxx, *extra, "-pthread", *objs, "-o", str(target)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{result.stderr}")


if __name__ == "__main__":
    for path in build(sys.argv[1]):
        print(path)
