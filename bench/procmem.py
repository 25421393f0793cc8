"""The server's memory, read from /proc: its process and every descendant (granian's workers are
child processes), sampled in a thread every few milliseconds."""

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


def tree_rss_kib(pids: list[int]) -> int:
    return sum(status_kib(pid, "VmRSS") for pid in pids)


@dataclass
class RssPeak:
    """Use as a context manager around the work: `before`, `peak` and `after` are KiB summed over
    the tree; `hwm_growth` is how far the largest process's VmHWM rose (catches spikes between
    samples)."""

    root: int
    pids: list[int] = field(default_factory=list)
    before: int = 0
    peak: int = 0
    after: int = 0
    hwm_growth: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _hwm_before: dict[int, int] = field(default_factory=dict)

    def __enter__(self) -> RssPeak:
        self.pids = process_tree(self.root)
        self._hwm_before = {pid: status_kib(pid, "VmHWM") for pid in self.pids}
        self.before = self.peak = tree_rss_kib(self.pids)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set() and self.samples < MAX_SAMPLES:
            self.peak = max(self.peak, tree_rss_kib(self.pids))
            self.samples += 1
            time.sleep(INTERVAL)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.after = tree_rss_kib(self.pids)
        self.peak = max(self.peak, self.after)
        self.hwm_growth = max(
            (status_kib(pid, "VmHWM") - before for pid, before in self._hwm_before.items()), default=0
        )

    @property
    def growth(self) -> int:
        """Peak over before, in KiB."""
        return self.peak - self.before
