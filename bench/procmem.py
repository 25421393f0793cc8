"""The server's memory, read from /proc. `chat-media serve` is granian's main process; the requests
are handled by its worker processes (its descendants), so those are measured one by one, the
parent apart. Each process's peak is exact where the kernel lets us reset its VmHWM (writing 5 to
/proc/<pid>/clear_refs, Linux >= 4.0, our own processes); a sampler thread reads VmRSS every few
milliseconds besides, as a fallback and a cross-check."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
INTERVAL = 0.005  # seconds between samples
MAX_SAMPLES = 200_000  # ~17 minutes at 5 ms: a bound, not a limit ever reached


def process_tree(root: int) -> list[int]:
    """`root` and its descendants, found through each process's parent id."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name sits in parentheses and may hold spaces: read after the last ')'.
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += frontier
    return tree


def status_kib(pid: int, key: str) -> int:
    """A `Vm*` line of /proc/<pid>/status, in KiB (0 once the process is gone)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_hwm(pid: int) -> bool:
    """Sets the process's VmHWM back to its current VmRSS; False where that is not allowed."""
    try:
        (PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class RssPeak:
    """Use as a context manager around the work. Per process, in KiB: `before`, `peak` (the largest
    of the samples and, after a reset, the kernel's VmHWM) and `after`."""

    root: int
    workers: list[int] = field(default_factory=list)
    before: dict[int, int] = field(default_factory=dict)
    peak: dict[int, int] = field(default_factory=dict)
    after: dict[int, int] = field(default_factory=dict)
    hwm_exact: bool = False  # every process's VmHWM was reset, so `peak` misses no spike
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def pids(self) -> list[int]:
        return [self.root, *self.workers]

    def __enter__(self) -> RssPeak:
        self.workers = process_tree(self.root)[1:]
        if not self.workers:
            raise RuntimeError(f"the server (pid {self.root}) has no worker process to measure")
        self.hwm_exact = all([reset_hwm(pid) for pid in self.pids])
        self.before = {pid: status_kib(pid, "VmRSS") for pid in self.pids}
        self.peak = dict(self.before)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set() and self.samples < MAX_SAMPLES:
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], status_kib(pid, "VmRSS"))
            self.samples += 1
            time.sleep(INTERVAL)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.after = {pid: status_kib(pid, "VmRSS") for pid in self.pids}
        for pid in self.pids:
            hwm = status_kib(pid, "VmHWM") if self.hwm_exact else 0
            self.peak[pid] = max(self.peak[pid], self.after[pid], hwm)

    def growth(self, pid: int) -> int:
        """Peak over before for one process, in KiB."""
        return self.peak[pid] - self.before[pid]

    @property
    def worker_growth(self) -> int:
        """The largest rise of one worker (one of them handled the request), in KiB."""
        return max(self.growth(pid) for pid in self.workers)

    @property
    def worker_before(self) -> int:
        return max(self.before[pid] for pid in self.workers)

    @property
    def parent_growth(self) -> int:
        return self.growth(self.root)
