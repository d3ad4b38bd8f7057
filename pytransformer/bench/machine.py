"""The machine a benchmark runs on: what it is (CPU, caches, memory) and what it can do at most
(its measured peaks), so every figure of the report can be read against the limit.

The peaks are measured by our native loops (``_core.measure_fma_gflops``, an FMA chain per
register; ``_core.measure_read_gbps``, a streaming sum over a buffer far larger than the last
cache), once per thread count, at the start and at the end of a run (the higher figure
counts: a busy machine can only lower one), each time in a process of their own that runs this
file as a script, so no engine's thread pool is alive while they run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional


@dataclass(frozen=True)
class PeakSettings:
    """How long and how big the measurements are. The read buffer must dwarf the last-level
    cache (hundreds of MiB on big server parts), or the figure is the cache's."""

    fma_seconds: float = 1.0  # per thread count, best of a few trials within it
    read_bytes: int = 1 << 30
    read_repeats: int = 10  # passes over the buffer per thread count; the fastest counts

    def __post_init__(self):
        if not self.fma_seconds > 0:
            raise ValueError(f"fma_seconds must be > 0, got {self.fma_seconds}")
        if self.read_bytes < 4096:
            raise ValueError(f"read_bytes must be >= 4096, got {self.read_bytes}")
        if self.read_repeats < 1:
            raise ValueError(f"read_repeats must be >= 1, got {self.read_repeats}")


QUICK_PEAKS = PeakSettings(fma_seconds=0.2, read_repeats=2)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _caches() -> List[str]:
    """The caches of CPU 0, e.g. ["L1d 48K", "L1i 32K", "L2 2048K", "L3 307200K"] (Linux)."""
    caches = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind, size = ((index / name).read_text().strip()
                                 for name in ("level", "type", "size"))
        except OSError:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        caches.append(f"L{level}{suffix} {size}")
    return caches


def _memory_gib() -> Optional[float]:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return None


def describe() -> Dict[str, object]:
    """What this machine is, for the JSON and the header."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "caches": _caches(), "memory_gib": _memory_gib(), "system": platform.system(),
            "release": platform.release(), "python": platform.python_version()}


def measure_peaks(threads: List[int], settings: PeakSettings) -> Dict[str, object]:
    """The peaks with each thread count (and 1, the per-core figure), in this process."""
    from pytransformer import _core

    counts = sorted({1, *threads})
    start = time.perf_counter()
    fma = {str(t): _core.measure_fma_gflops(t, settings.fma_seconds) for t in counts}
    read = {str(t): _core.measure_read_gbps(t, settings.read_bytes, settings.read_repeats)
            for t in counts}
    return {"isa": _core.cpu_isa(), "fma_gflops": fma, "read_gbps": read,
            "settings": asdict(settings), "seconds": time.perf_counter() - start}


def best_of(measurements: List[Dict[str, object]]) -> Dict[str, object]:
    """The highest figure of each kind and thread count over several measurements (other work
    on the machine can only lower one), with every measurement kept."""
    best = {k: v for k, v in measurements[0].items() if k != "seconds"}  # each keeps its own
    for figure in ("fma_gflops", "read_gbps"):
        best[figure] = {t: max(m[figure][t] for m in measurements) for t in best[figure]}
    best["measurements"] = measurements
    return best


def measure_peaks_in_own_process(threads: List[int], settings: PeakSettings) -> Dict[str, object]:
    """measure_peaks in a fresh process running this file (see the module's docstring)."""
    request = json.dumps({"threads": list(threads), "settings": asdict(settings)})
    done = subprocess.run([sys.executable, __file__, request], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"measuring the machine's peaks failed:\n{done.stderr}")
    return json.loads(done.stdout)


def main(request: str) -> None:
    # The package this file belongs to, not whichever one sys.path would find first.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    parsed = json.loads(request)
    print(json.dumps(measure_peaks(parsed["threads"], PeakSettings(**parsed["settings"]))))


if __name__ == "__main__":
    main(sys.argv[1])
