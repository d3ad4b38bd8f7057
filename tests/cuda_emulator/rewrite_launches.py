"""Rewrites a CUDA source (csrc/cuda/*.cu) into C++ that g++ compiles against include/:

    k<T><<<grid, block[, smem[, stream]]>>>(args)
        -> emulate_launch(k<T>, dim3(grid), dim3(block), smem, args)
    extern __shared__ float smem[];
        -> float* smem = reinterpret_cast<float*>(emu::dynamic_shared());
    __shared__ float partials[32];
        -> static float partials[32]; emu::poison_shared(partials, sizeof(partials));

Anything else CUDA-only that it does not know (in a .cu, or in a .cuh, which is included as
it is) raises ValueError, so a new construct in a kernel fails the emulated test loudly instead
of being emulated wrongly.

    python rewrite_launches.py SRC_DIR OUT_DIR   # every SRC_DIR/*.cu but device.cu -> OUT_DIR/*.cpp
"""

import pathlib
import re
import sys

# device.cu is the real runtime's queries; fake_device.cpp replaces it.
SKIP = {"device.cu"}

_LAUNCH = re.compile(r"([\w:]+(?:<[\w:, ]+>)?)\s*<<<(.*?)>>>\s*\(", re.S)
_DYNAMIC_SHARED = re.compile(r"extern\s+__shared__\s+(\w+)\s+(\w+)\s*\[\s*\]\s*;")
_STATIC_SHARED = re.compile(r"__shared__\s+(\w+)\s+(\w+)\s*(\[[^\]]+\])\s*;")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
# Left after the rewrite, these would compile against nothing or mean something not emulated.
_NOT_EMULATED = ("__shared__", "<<<", ">>>", "__constant__", "atomic", "cooperative_groups",
                 "__ldg", "__threadfence", "cudaStream", "__syncwarp", "__ballot", "__any_sync",
                 "__all_sync", "__shfl_up", "__shfl_down", "clock64")


def _split_top(text):
    """Splits a launch configuration at its top-level commas."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def _launch(match):
    config = _split_top(match.group(2))
    if not 2 <= len(config) <= 4:
        raise ValueError(f"launch configuration <<<{match.group(2)}>>>: 2 to 4 parts expected")
    smem = config[2] if len(config) > 2 else "0"  # a stream (4th) is ignored: all is in order
    return f"emulate_launch({match.group(1)}, dim3({config[0]}), dim3({config[1]}), {smem}, "


def _refuse_unknown(text, name):
    code = _COMMENT.sub("", text)
    for token in _NOT_EMULATED:
        if token in code:
            raise ValueError(f"{name}: `{token}` is not emulated (tests/cuda_emulator)")


def rewrite(source: str, name: str = "<source>") -> str:
    out = _DYNAMIC_SHARED.sub(r"\1* \2 = reinterpret_cast<\1*>(emu::dynamic_shared());", source)
    out = _STATIC_SHARED.sub(r"static \1 \2\3; emu::poison_shared(\2, sizeof(\2));", out)
    out = _LAUNCH.sub(_launch, out)
    _refuse_unknown(out, name)
    return out


def rewrite_dir(src_dir, out_dir):
    """Rewrites every .cu of src_dir (but SKIP) to out_dir/<stem>.cpp; returns those paths."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for header in sorted(pathlib.Path(src_dir).glob("*.cuh")):
        _refuse_unknown(header.read_text(), header.name)
    written = []
    for cu in sorted(pathlib.Path(src_dir).glob("*.cu")):
        if cu.name in SKIP:
            continue
        target = out_dir / f"{cu.stem}.cpp"
        text = rewrite(cu.read_text(), cu.name)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
        written.append(target)
    return written


if __name__ == "__main__":
    for path in rewrite_dir(sys.argv[1], sys.argv[2]):
        print(path)
