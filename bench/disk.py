"""The machine's own write speed for the same 50 MB: dd with an fsync, the upload's peer."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.upload import MB


def dd_write(directory: Path, mib: int, runs: int) -> list[float]:
    """MB/s of `dd if=/dev/zero of=<dir>/dd.bin bs=1M count=<mib> conv=fsync`, `runs` times."""
    dd = shutil.which("dd")
    if dd is None:
        raise RuntimeError("dd is not on PATH")
    target = directory / "dd.bin"
    speeds = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run(
                [dd, "if=/dev/zero", f"of={target}", "bs=1M", f"count={mib}", "conv=fsync"],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            elapsed = time.perf_counter() - started
            # dd's own figure excludes its start-up; fall back on the wall clock if it can't be read.
            copied = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", done.stderr)
            nbytes, seconds = (int(copied[1]), float(copied[2])) if copied else (mib << 20, elapsed)
            speeds.append(nbytes / seconds / MB)
    finally:
        target.unlink(missing_ok=True)
    return speeds


def summary(speeds: list[float]) -> dict[str, object]:
    return {"mb_s_median": statistics.median(speeds), "mb_s_runs": [round(s, 1) for s in speeds]}
