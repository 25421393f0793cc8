"""granian, with one change: before it stops its workers (shutdown or reload), it asks them to
close their WebSockets with 1001, which granian itself would drop without a close frame."""

from __future__ import annotations

import os
import time

from granian import Granian

from entrypoints.ws_hub import CLOSE_SOCKETS_SIGNAL, SHUTDOWN_GRACE


class GracefulGranian(Granian):  # type: ignore[misc,valid-type]
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
