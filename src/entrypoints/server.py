"""granian, driven so that stopping always finishes:

- Before it stops its workers (shutdown or reload), it asks them to close their WebSockets with
  1001, which granian itself would drop without a close frame.
- Its main loop's `threading.Event` is set from its signal handlers, which Python runs on the main
  thread between two bytecodes: a SIGTERM landing while that thread holds the Event's lock (inside
  `Event.wait()`) deadlocked the process for good (cpython #126434 describes the class). The
  Event is replaced by a flag that a handler can set without any lock, polled by the loop.
- Past `SHUTDOWN_TIMEOUT` seconds after stopping began, the process exits anyway, workers killed.
- A worker exits when the process that spawned it is gone (`PR_SET_PDEATHSIG`): a `kill -9` of
  the main process left both workers running, holding the port and their files.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time

from granian import Granian
from granian.http import HTTP1Settings

from entrypoints.ws_hub import CLOSE_SOCKETS_SIGNAL, SHUTDOWN_GRACE

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.05  # seconds between two looks at the flag: a stop is seen within this
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def shutdown_timeout() -> float:
    return float(os.environ.get("SHUTDOWN_TIMEOUT") or 15)


class SignalSafeEvent:
    """What granian's main loop asks of its Event (set, clear, is_set, wait), with a `set()` that
    takes no lock, so a signal handler may call it whatever the main thread was doing."""

    def __init__(self) -> None:
        self._flag = False

    def set(self) -> None:
        self._flag = True  # one attribute store: atomic under the GIL, nothing to wait for

    def clear(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._flag:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL)
        return True


# The most an HTTP/1 connection's read buffer grows to, and so the largest body chunk `receive` hands
# over. granian's default (408 KiB) cut a 50 MiB upload into ~130 chunks, each a wake-up of the
# event loop and a turn of the multipart parser; at 2 MiB a fast client's body comes in ~40. 4 MiB
# was no faster and doubled the worker's peak during an upload. A buffer is only this large while
# a client sends faster than the service reads.
HTTP1_MAX_BUFFER = 2 << 20


class GracefulGranian(Granian):  # type: ignore[misc,valid-type]
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("http1_settings", HTTP1Settings(max_buffer_size=HTTP1_MAX_BUFFER))
        super().__init__(*args, **kwargs)
        self.main_loop_interrupt = SignalSafeEvent()

    def shutdown(self, exit_code: int = 0) -> None:
        # Started here, on the main thread outside any handler: whatever hangs from now on, the
        # process is gone at the deadline.
        threading.Thread(target=self._exit_at_deadline, name="shutdown-deadline", daemon=True).start()
        super().shutdown(exit_code)

    def _exit_at_deadline(self) -> None:
        time.sleep(shutdown_timeout())
        log.error("shutdown took longer than SHUTDOWN_TIMEOUT (%s s): exiting anyway", shutdown_timeout())
        for worker in list(self.wrks):
            try:
                os.kill(worker._id(), signal.SIGKILL)
            except (ProcessLookupError, TypeError):
                continue
        os._exit(1)

    def _stop_workers(self) -> None:  # granian's hook for stopping workers, on shutdown and reload
        for worker in self.wrks:
            worker.interrupt_by_parent = True  # its exit from now on is ours, not a crash to report
            try:
                os.kill(worker._id(), CLOSE_SOCKETS_SIGNAL)
            except (ProcessLookupError, TypeError):
                continue  # gone already, or never started
        if self.wrks:
            time.sleep(SHUTDOWN_GRACE)
        super()._stop_workers()


def die_with_parent() -> None:
    """In a worker: SIGTERM (its graceful stop) from the kernel once its parent is gone."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())
        return
    if os.getppid() != parent:  # the parent died before the call: the kernel will not tell
        os.kill(os.getpid(), signal.SIGTERM)
    # granian's worker can miss a SIGTERM that lands while it starts (it then serves on, for good):
    # past the deadline after its parent went, it goes however its stop is doing.
    threading.Thread(target=_exit_after_parent, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_after_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    time.sleep(shutdown_timeout())
    os._exit(1)
