"""The service with a stopwatch on each step of an upload, for bench/upload_breakdown.py.

`python -m bench.upload_trace PORT` migrates and serves like `chat-media serve` (granian, one
worker), but its app is `traced_app`: before building the service it wraps the functions an upload
goes through (found by name: a step the code does not have is left out) so that each adds the time
it took to the current upload's record, and it wraps the ASGI app to time the request itself (every
`receive`, the body's chunks, the answer). Each upload's record is one JSON line appended to
`$UPLOAD_TRACE_FILE`. The product is not changed: this is a bench's instrument, and its own cost
(a `perf_counter` pair per call, a few hundred calls an upload) is part of what it shows.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

TRACE_ENV = "UPLOAD_TRACE_FILE"
UPLOAD_PATH = "/api/v1/media/upload"


class Record:
    """One upload's times: sums and counts by step, and marks (ms since the request came in)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.lock = threading.Lock()  # steps run in worker threads too
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.marks: dict[str, float] = {}
        self.chunks: list[int] = []

    def add(self, step: str, seconds: float) -> None:
        with self.lock:
            self.sums[step] = self.sums.get(step, 0.0) + seconds * 1000
            self.counts[step] = self.counts.get(step, 0) + 1

    def mark(self, name: str, *, first: bool = False) -> None:
        at = (time.perf_counter() - self.started) * 1000
        with self.lock:
            if not (first and name in self.marks):
                self.marks[name] = at

    def as_dict(self) -> dict[str, object]:
        return {"sums_ms": self.sums, "counts": self.counts, "marks_ms": self.marks, "chunks": self.chunks}


_current: Record | None = None  # one upload at a time: the bench sends them one after the other


def _timed(
    step: str, function: Callable[..., Any], *, start: str | None = None, end: str | None = None
) -> Any:
    """`function` that adds its run time to the current record as `step` (and marks `start`, the
    first time it starts, and `end`, each time it ends)."""

    def before() -> float:
        if _current is not None and start is not None:
            _current.mark(start, first=True)
        return time.perf_counter()

    def after(began: float) -> None:
        record = _current
        if record is not None:
            record.add(step, time.perf_counter() - began)
            if end is not None:
                record.mark(end)

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            began = before()
            try:
                return await function(*args, **kwargs)
            finally:
                after(began)

        return timed_async

    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def timed_gen(*args: Any, **kwargs: Any) -> Any:
            began = before()
            try:
                return list(function(*args, **kwargs))  # the parser's events, all of one chunk
            finally:
                after(began)

        return timed_gen

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = before()
        try:
            return function(*args, **kwargs)
        finally:
            after(began)

    return timed


# (module, attribute path, step, start mark, end mark): what an upload goes through, before and
# after the changes of issue 17; whatever a version lacks is skipped.
STEPS: list[tuple[str, str, str, str | None, str | None]] = [
    ("multipart", "PushMultipartParser.parse", "multipart_parse", None, None),
    ("application.upload_media", "Upload.to_message", "db_message_check", None, None),
    ("application.upload_media", "Upload.receive", "receive_file", "file_part", "file_staged"),
    ("adapters.files.local.store", "LocalFileStore._create_staged", "stage_create", None, None),
    ("adapters.sniffing", "FiletypeSniffer.sniff", "sniff", "sniffed", None),
    ("adapters.files.local.staged", "LocalStaged._write", "write_thread", None, None),
    ("adapters.files.local.staged", "LocalStaged._flush", "flush_fdatasync_bg", None, None),
    ("adapters.files.local.staged", "LocalStaged._settle", "publish_wait_flush", None, None),
    ("adapters.files.local.staged", "LocalStaged._publish", "publish", "publish_start", "publish_end"),
    ("adapters.files.local.staged", "_fsync_dir", "fsync_dir", None, None),
    ("adapters.sql.contents", "SqlContentRepository.get", "db_content_lookup", "lookup_start", None),
    ("application.upload_commit", "_commit", "db_commit_txn", "commit_start", "commit_end"),
    ("adapters.sql.unit_of_work", "SqlUnitOfWork.commit", "db_commit_call", None, None),
    ("adapters.broadcast", "ChannelsBroadcaster.publish", "broadcast", None, "broadcast_end"),
    ("application.upload_media", "Upload.abort", "abort_cleanup", None, None),
]

# Syscalls of the staged file, timed where its module calls them (its `os`).
SYSCALLS = {
    "writev": "syscall_writev",
    "fsync": "syscall_fsync",
    "fdatasync": "syscall_fdatasync",
    "link": "syscall_link",
}


def _patch(module_name: str, path: str, step: str, start: str | None, end: str | None) -> bool:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    *owners, name = path.split(".")
    owner: Any = module
    for part in owners:
        owner = getattr(owner, part, None)
        if owner is None:
            return False
    function = inspect.getattr_static(owner, name, None)
    if function is None:
        return False
    if isinstance(function, staticmethod):
        setattr(owner, name, staticmethod(_timed(step, function.__func__, start=start, end=end)))
    else:
        setattr(owner, name, _timed(step, function, start=start, end=end))
    return True


class _Os:
    """The staged file module's `os`, with its syscalls timed."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._real, name)
        if name in SYSCALLS:
            return _timed(SYSCALLS[name], value)
        return value


# Every public coroutine method of these repositories is timed as `sql <Class>.<method>`.
REPOSITORIES = [
    ("adapters.sql.attachments", "SqlAttachmentRepository"),
    ("adapters.sql.messages", "SqlMessageRepository"),
    ("adapters.sql.conversations", "SqlConversationRepository"),
    ("adapters.sql.event_log", "SqlEventLog"),
    ("adapters.sql.contents", "SqlContentRepository"),
    ("adapters.sql.unit_of_work", "SqlUnitOfWork"),
]


def _repository_steps() -> list[tuple[str, str, str, str | None, str | None]]:
    steps = []
    for module_name, cls_name in REPOSITORIES:
        cls = getattr(importlib.import_module(module_name), cls_name, None)
        for name, member in vars(cls or object).items():
            if inspect.iscoroutinefunction(member) and (
                not name.startswith("_") or name in ("__aenter__", "__aexit__")
            ):
                steps.append((module_name, f"{cls_name}.{name}", f"sql {cls_name}.{name}", None, None))
    return steps


class _TimedDigest:
    """A sha256 whose `update` is timed as `sha256` (in whatever thread feeds it)."""

    def __init__(self, digest: Any) -> None:
        self._digest = digest
        self.update = _timed("sha256", digest.update)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._digest, name)


class _Hashlib:
    """The write pipeline's `hashlib`, whose sha256 objects are timed."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def sha256(self, *args: Any) -> _TimedDigest:
        return _TimedDigest(self._real.sha256(*args))


def install() -> list[str]:
    """Wraps every step this version of the code has; returns the steps found."""
    steps = STEPS + _repository_steps()
    found = [step for module, path, step, start, end in steps if _patch(module, path, step, start, end)]
    pipeline = importlib.import_module("adapters.files.write_pipeline")
    pipeline.hashlib = _Hashlib(pipeline.hashlib)  # type: ignore[attr-defined]
    staged = importlib.import_module("adapters.files.local.staged")
    staged.os = _Os(staged.os)  # type: ignore[attr-defined]
    return found


def traced(app: Any) -> Any:
    """The ASGI app with each upload request timed: its `receive`s and chunks, its answer."""
    path = os.environ.get(TRACE_ENV)

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        global _current
        if scope.get("type") != "http" or scope.get("path") != UPLOAD_PATH or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        record = _current = Record()

        async def timed_receive() -> Any:
            began = time.perf_counter()
            message = await receive()
            record.add("receive_wait", time.perf_counter() - began)
            body = message.get("body", b"")
            if body:
                record.chunks.append(len(body))
                record.mark("first_body", first=True)
                record.mark("last_body")
            return message

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                record.mark("response_start")
            await send(message)

        try:
            await app(scope, timed_receive, timed_send)
        finally:
            record.mark("done")
            _current = None
            if path:
                with open(path, "a", encoding="utf-8") as out:
                    out.write(json.dumps(record.as_dict()) + "\n")

    return asgi


def traced_app() -> Any:
    """granian's factory: the service's own (`entrypoints.app.app_from_env`), traced."""
    install()
    from entrypoints.app import app_from_env

    return traced(app_from_env())


def main() -> None:
    from granian.constants import Interfaces

    from adapters.sql.database import upgrade_to_head
    from entrypoints.server import GracefulGranian
    from entrypoints.settings import load_settings

    settings = load_settings()
    upgrade_to_head(settings.database_url)
    GracefulGranian(
        "bench.upload_trace:traced_app",
        factory=True,
        interface=Interfaces.ASGI,
        address="127.0.0.1",
        port=int(sys.argv[1]),
        workers=1,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    main()
