"""The service's Prometheus metrics, each named here once, and what exposes them.

The HTTP requests' series are counted by `entrypoints.http.observe.RequestMetrics` under the names
and labels Litestar's Prometheus middleware gave them; the rest are the media service's own. Under
granian's workers each process counts in files of its own in `PROMETHEUS_MULTIPROC_DIR`
(prometheus-client's multiprocess mode, set up by the CLI before the workers fork), and `/metrics`
adds them up; a process run alone (tests, an embedding app) counts in memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from application.ports.files import MediaSource
from application.ports.media import MediaProcessor, ProcessedMedia, Stage
from domain.attachment import Attachment
from domain.policy import Admission

PREFIX = "chat_media"
MULTIPROC_ENV = (
    "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name (entrypoints.metrics_folder sets it)
)

UPLOADS = Counter(f"{PREFIX}_uploads", "Files stored, by kind", ["kind"])
UPLOAD_BYTES = Counter(f"{PREFIX}_upload_bytes", "Bytes of the files stored, by kind", ["kind"])
REFUSALS = Counter(
    f"{PREFIX}_upload_refusals", "Uploads refused, by reason (type, size, quota, rate, scan)", ["reason"]
)
DOWNLOADS = Counter(f"{PREFIX}_downloads", "File answers with a body, by who sends the bytes", ["via"])
DOWNLOAD_BYTES = Counter(f"{PREFIX}_download_bytes", "Bytes of file answers, by who sends them", ["via"])
OPEN_SOCKETS = Gauge(f"{PREFIX}_websockets_open", "WebSockets open now", multiprocess_mode="livesum")
EVENTS_PUBLISHED = Counter(f"{PREFIX}_events_published", "Events published after their commit")
PUBLISH_FAILURES = Counter(f"{PREFIX}_event_publish_failures", "Events whose publish failed")
EVENTS_DELIVERED = Counter(f"{PREFIX}_events_delivered", "Event frames handed to sockets' mailboxes")
EVENTS_RECOVERED = Counter(f"{PREFIX}_events_recovered", "Events not heard, read back from the log")
MAILBOX_OVERFLOWS = Counter(f"{PREFIX}_mailbox_overflows", "Sockets closed for falling behind (4008)")
PROCESSING_SECONDS = Histogram(
    f"{PREFIX}_processing_seconds",
    "Time to process an admitted file (metadata, thumbnail), by kind",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SWEPT = Counter(f"{PREFIX}_sweep_removed", "What the sweep removed, by what it was", ["what"])
STORAGE_ERRORS = Counter(
    f"{PREFIX}_storage_errors", "Database, file store and scanner failures answered 503, by which", ["source"]
)
INTERNAL_ERRORS = Counter(f"{PREFIX}_internal_errors", "Answers 500 (a bug, or an unexpected error)")
HTTP_LABELS = ["method", "path", "status_code", "app_name"]
HTTP_REQUESTS = Counter(f"{PREFIX}_requests", "Total requests", HTTP_LABELS)
HTTP_SECONDS = Histogram(f"{PREFIX}_request_duration_seconds", "Request duration, in seconds", HTTP_LABELS)
HTTP_ERRORS = Counter(f"{PREFIX}_requests_error", "Total errors in requests", HTTP_LABELS)
HTTP_IN_PROGRESS = Gauge(
    f"{PREFIX}_requests_in_progress",
    "Total requests currently in progress",
    ["method", "path", "app_name"],
    multiprocess_mode="livesum",
)


def count_stored(attachments: Sequence[Attachment]) -> None:
    for attachment in attachments:
        UPLOADS.labels(attachment.kind.value).inc()
        UPLOAD_BYTES.labels(attachment.kind.value).inc(attachment.size)


def count_download(via: str, length: int) -> None:
    DOWNLOADS.labels(via).inc()
    DOWNLOAD_BYTES.labels(via).inc(length)


class TimedProcessor:
    """A MediaProcessor that records how long the one it wraps takes, failures included."""

    def __init__(self, inner: MediaProcessor, kind: str) -> None:
        self._inner = inner
        self._seconds = PROCESSING_SECONDS.labels(kind)

    async def process(self, source: MediaSource, admission: Admission, stage: Stage) -> ProcessedMedia:
        started = time.perf_counter()
        try:
            return await self._inner.process(source, admission, stage)
        finally:
            self._seconds.observe(time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """Every process's metrics in Prometheus' text format, and its content type."""
    registry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
