"""The folder where granian's workers keep their Prometheus counts (prometheus-client's
multiprocess mode), prepared by the CLI's main process before the workers fork.

This module imports nothing of prometheus-client: the library picks its mode when first imported,
so the main process must name the folder before any module that defines a metric is loaded."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def metrics_folder(*, enabled: bool) -> Iterator[None]:
    """While the block runs, an empty folder for the workers' metric files, named in the
    environment they inherit: the one PROMETHEUS_MULTIPROC_DIR names (emptied, or a previous run's
    counts would add to this one's), else a new temporary one, removed afterwards."""
    if not enabled:
        yield
        return
    if "prometheus_client" in sys.modules:  # the workers would inherit its single-process mode
        raise RuntimeError("prometheus_client was imported before its multiprocess folder was named")
    named = os.environ.get(MULTIPROC_ENV)
    if named:
        shutil.rmtree(named, ignore_errors=True)
        Path(named).mkdir(parents=True)
        yield
        return
    with tempfile.TemporaryDirectory(prefix="chat-media-metrics-") as folder:
        os.environ[MULTIPROC_ENV] = folder
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]
