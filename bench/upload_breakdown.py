"""Where the milliseconds of one 50 MiB .zip upload go: the service run with a stopwatch on each
step (bench/upload_trace.py), `runs` uploads one after the other, each step's median printed.

Two views of the same uploads:
- the waterfall: the request's time cut at the marks each step leaves (the body's first and last
  chunk, the file staged, the look-up, the publish, the commit, the answer), which add up to the
  time the app held the request; the client's own time beside it (the rest is the connection,
  the request's head and the answer on the wire);
- the work: the time each step took in all (in the event loop or in worker threads, side by side
  with the body's arrival for most of them), the syscalls among it, and the body's ASGI chunks.

`python -m bench.upload_breakdown [runs]` prints it alone; `python -m bench upload` runs it too.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.payload import MiB, write_zip
from bench.service import MAX_UPLOAD_SIZE, REPO, Api, Service, free_port, wait_healthy
from bench.upload import MB, upload_once
from bench.upload_trace import TRACE_ENV

RUNS = 9
WARM_UP = 2

# (label, from mark, to mark): consecutive, so that they add up to the request's time in the app.
WATERFALL = [
    ("request in -> first body chunk", "start", "first_body"),
    ("first chunk -> file part (message check)", "first_body", "file_part"),
    ("file part -> last body chunk (streaming)", "file_part", "last_body"),
    ("last chunk -> file staged (drain)", "last_body", "file_staged"),
    ("file staged -> publish (look-up)", "file_staged", "publish_start"),
    ("publish (fsync, link, dir fsync)", "publish_start", "publish_end"),
    ("publish -> commit done (transaction)", "publish_end", "commit_end"),
    ("commit -> answer starts (broadcast)", "commit_end", "response_start"),
    ("answer", "response_start", "done"),
]

WORK = [
    ("receive_wait", "awaiting ASGI receive (event loop)"),
    ("multipart_parse", "multipart parsing (event loop)"),
    ("sniff", "sniffing the first bytes"),
    ("sha256", "sha256, worker thread"),
    ("write_thread", "writes, worker thread"),
    ("syscall_writev", "  of which writev"),
    ("flush_fdatasync_bg", "fdatasync while streaming, own thread"),
    ("publish", "publish, worker thread"),
    ("publish_wait_flush", "  of which waiting for that fdatasync"),
    ("syscall_fsync", "  of which fsync (file)"),
    ("fsync_dir", "  of which fsync (directory)"),
    ("db_message_check", "DB: message check (own transaction)"),
    ("db_content_lookup", "DB: dedup look-up"),
    ("db_commit_txn", "DB: the commit's transaction"),
    ("db_commit_call", "  of which COMMIT"),
    ("broadcast", "broadcast"),
    ("abort_cleanup", "staging clean-up"),
]


@dataclass
class Breakdown:
    client_ms: list[float]
    app_ms: list[float]
    waterfall: dict[str, list[float]]
    work: dict[str, list[float]]
    sql: dict[str, list[float]]  # by repository method and calls an upload (the delete's excluded)
    chunks: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "client_ms_median": _median(self.client_ms),
            "client_ms_runs": [round(x, 1) for x in self.client_ms],
            "mb_s_median": 50 * MiB / (_median(self.client_ms) / 1000) / MB,
            "app_ms_median": _median(self.app_ms),
            "waterfall_ms_median": {k: _median(v) for k, v in self.waterfall.items()},
            "work_ms_median": {k: _median(v) for k, v in self.work.items()},
            "sql_ms_median": {k: _median(v) for k, v in sorted(self.sql.items())},
            "chunks": self.chunks,
        }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def start_traced(workdir: Path, trace: Path, repo: Path = REPO) -> Service:
    """The service of `repo` (this checkout by default) under bench/upload_trace.py's stopwatch."""
    port = free_port()
    (workdir / "uploads").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "UPLOAD_DIR": str(workdir / "uploads"),
        "JWT_SECRET": os.urandom(32).hex(),
        "MEDIA_URL_SECRET": os.urandom(32).hex(),
        "MAX_UPLOAD_SIZE": str(MAX_UPLOAD_SIZE),
        TRACE_ENV: str(trace),
        # the other checkout's product, when `repo` is another, ahead of this venv's own
        "PYTHONPATH": os.pathsep.join([str(REPO), str(repo / "src")]),
    }
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.upload_trace", str(port)],
            cwd=REPO,  # this checkout's bench package (the other's has no upload_trace)
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return wait_healthy(
        Service(process=process, port=port, workdir=workdir, env=env, log=log), "the traced service"
    )


def measure(workdir: Path, zip_file: Path, runs: int = RUNS, repo: Path = REPO) -> Breakdown:
    trace = workdir / "trace.jsonl"
    service = start_traced(workdir / "traced", trace, repo)
    api = Api(service, token := service.token("bench-alice"))
    client: list[float] = []
    try:
        message = api.message(api.conversation(), "upload breakdown")
        for i in range(WARM_UP + runs):
            answer, attachment = upload_once(service, token, message, zip_file)
            if i >= WARM_UP:
                client.append(answer.seconds * 1000)
            api.delete_media(str(attachment["id"]))
    finally:
        api.close()
        service.stop()
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    records = [r for r in records if "publish_end" in r["marks_ms"]][-runs:]  # the 50 MiB ones
    waterfall: dict[str, list[float]] = {label: [] for label, _, _ in WATERFALL}
    work: dict[str, list[float]] = {step: [] for step, _ in WORK}
    sql: dict[str, list[float]] = {}
    sizes: list[int] = []
    counts: list[int] = []
    app: list[float] = []
    for record in records:
        marks = {"start": 0.0, **record["marks_ms"]}
        app.append(marks["done"])
        for label, start, end in WATERFALL:
            if start in marks and end in marks:
                waterfall[label].append(marks[end] - marks[start])
        for step, _ in WORK:
            work[step].append(record["sums_ms"].get(step, 0.0))
        for step, ms in record["sums_ms"].items():
            if step.startswith("sql "):
                sql.setdefault(f"{step} x{record['counts'][step]}", []).append(ms)
        sizes += record["chunks"]
        counts.append(len(record["chunks"]))
    chunks = {
        "per_upload_median": _median([float(c) for c in counts]),
        "bytes_median": _median([float(s) for s in sizes]),
        "bytes_min": float(min(sizes, default=0)),
        "bytes_max": float(max(sizes, default=0)),
    }
    return Breakdown(client, app, waterfall, work, sql, chunks)


def lines(result: dict[str, Any], dd_mb_s: float | None = None) -> list[str]:
    """The breakdown as printed lines."""
    out = [
        f"One 50 MiB .zip upload, step by step (medians of {len(result['client_ms_runs'])} traced "
        f"uploads): client {result['client_ms_median']:.1f} ms ({result['mb_s_median']:.0f} MB/s), "
        f"in the app {result['app_ms_median']:.1f} ms"
        + ("" if dd_mb_s is None else f"; dd with fsync would take {50 * MiB / dd_mb_s / 1000:.1f} ms"),
        "  waterfall (adds up to the time in the app):",
    ]
    out += [f"    {label:<44} {ms:7.1f} ms" for label, ms in result["waterfall_ms_median"].items()]
    out.append("  work, in all (overlapping the waterfall):")
    labels = dict(WORK)
    out += [
        f"    {labels[step]:<44} {ms:7.1f} ms"
        for step, ms in result["work_ms_median"].items()
        if ms > 0 or not step.startswith("syscall")
    ]
    out.append("  SQL, by repository call (calls an upload):")
    out += [f"    {step:<44} {ms:7.1f} ms" for step, ms in result["sql_ms_median"].items()]
    c = result["chunks"]
    out.append(
        f"  body: {c['per_upload_median']:.0f} ASGI chunks an upload, {c['bytes_median'] / 1024:.0f} KiB "
        f"median ({c['bytes_min'] / 1024:.0f}-{c['bytes_max'] / 1024:.0f} KiB)"
    )
    return out


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    repo = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else REPO
    with tempfile.TemporaryDirectory(prefix="chat-media-breakdown-") as tmp:
        workdir = Path(tmp)
        zip_file = write_zip(workdir / "bench-50mb.zip", 50 * MiB)
        result = measure(workdir, zip_file, runs, repo).as_dict()
    print("\n".join(lines(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
