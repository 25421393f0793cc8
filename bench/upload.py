"""Upload throughput (raw socket, the file sent with sendfile) and the server's memory meanwhile,
for several files measured in turns (one of each per round), so a burst of load on the shared
machine falls on all of them alike."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.payload import multipart_frame, sha256_of
from bench.procmem import RssPeak
from bench.rawhttp import Answer, DiscardSink, exchange, request_head
from bench.service import Api, Service

BOUNDARY = "bench-7c1f0a9e3b5d4e2a"
MB = 1_000_000  # throughputs are in MB/s, 10^6 bytes a second, as dd prints them
CONTENT_TYPES = {".mp4": "video/mp4", ".zip": "application/zip"}


@dataclass
class UploadRun:
    mb_s: float
    seconds: float
    client_cpu_share: float  # client CPU seconds over wall seconds
    worker_before_kib: int  # VmRSS of the worker before the upload
    worker_growth_kib: int  # its peak during the upload over that
    parent_growth_kib: int  # the same for granian's main process
    workers: int
    hwm_exact: bool
    poster: bool  # the answer names a thumbnail: the file went through video processing


def _send(port: int, token: str, message_id: str, path: Path) -> Answer:
    content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    prefix, suffix = multipart_frame(BOUNDARY, {"message_id": message_id}, path.name, content_type)
    length = len(prefix) + path.stat().st_size + len(suffix)
    head = request_head(
        "POST",
        port,
        "/api/v1/media/upload",
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length),
        },
    )
    return exchange(port, head, body=(prefix, path, suffix))


def upload_once(
    service: Service, token: str, message_id: str, path: Path
) -> tuple[Answer, dict[str, object]]:
    """One upload, checked: the answer names one attachment of the file's size and sha256, and a
    file of that size is stored under its name. Returns the answer and the attachment."""
    answer = _send(service.port, token, message_id, path)
    if answer.status != 201:
        raise RuntimeError(f"upload of {path.name}: {answer.status} {answer.body[:500]!r}")
    attachments = json.loads(answer.body)
    size = path.stat().st_size
    if len(attachments) != 1:
        raise RuntimeError(f"upload of {path.name}: {len(attachments)} attachments in the answer")
    attachment = attachments[0]
    stored = service.upload_dir / str(attachment["filename"])
    # A remuxed video is stored (and described) as the remux: the answer must say what is stored.
    expected = stored if attachment.get("scrubbed") else path
    if not stored.is_file():
        raise RuntimeError(f"upload of {path.name}: {stored} is missing")
    if (attachment["size"], attachment["sha256"]) != (expected.stat().st_size, sha256_of(expected)):
        raise RuntimeError(
            f"upload of {path.name}: the answer says {attachment['size']} bytes, sha256 "
            f"{attachment['sha256']}, not what {expected} holds"
        )
    if expected is path and stored.stat().st_size != size:
        raise RuntimeError(f"upload of {path.name}: {stored} is not {size} bytes")
    return answer, attachment


def measure_uploads(
    service: Service, api: Api, token: str, message_id: str, files: dict[str, Path], runs: int
) -> tuple[dict[str, list[UploadRun]], dict[str, str]]:
    """`runs` rounds of one timed upload of each file (in turns, the order reversed every other
    round), each watched for memory; every upload but each file's last is deleted afterwards (to
    keep the disk small). Returns the runs and the stored name of the kept one, by key."""
    results: dict[str, list[UploadRun]] = {key: [] for key in files}
    kept: dict[str, str] = {}
    for i in range(runs):
        for key in list(files) if i % 2 == 0 else list(reversed(files)):
            path = files[key]
            with RssPeak(service.process.pid) as memory:
                answer, attachment = upload_once(service, token, message_id, path)
            results[key].append(
                UploadRun(
                    mb_s=path.stat().st_size / answer.seconds / MB,
                    seconds=answer.seconds,
                    client_cpu_share=answer.client_cpu / answer.seconds,
                    worker_before_kib=memory.worker_before,
                    worker_growth_kib=memory.worker_growth,
                    parent_growth_kib=memory.parent_growth,
                    workers=len(memory.workers),
                    hwm_exact=memory.hwm_exact,
                    poster="thumbnail_url" in attachment,
                )
            )
            if i < runs - 1:
                api.delete_media(str(attachment["id"]))
            else:
                kept[key] = str(attachment["filename"])
    return results, kept


def client_ceiling(path: Path, runs: int) -> list[float]:
    """The same client sending the same request to a sink that only reads: MB/s."""
    sink = DiscardSink()
    try:
        speeds = []
        for _ in range(runs):
            answer = _send(sink.port, "none", "00000000-0000-0000-0000-000000000000", path)
            if answer.status != 201:
                raise RuntimeError(f"the discard sink answered {answer.status}")
            speeds.append(path.stat().st_size / answer.seconds / MB)
        return speeds
    finally:
        sink.close()


def summary(runs: list[UploadRun]) -> dict[str, object]:
    return {
        "mb_s_median": statistics.median(r.mb_s for r in runs),
        "mb_s_runs": [round(r.mb_s, 1) for r in runs],
        "seconds_median": statistics.median(r.seconds for r in runs),
        "client_cpu_share_median": statistics.median(r.client_cpu_share for r in runs),
        "worker_rss_before_mib": runs[0].worker_before_kib / 1024,
        "worker_rss_growth_mib_max": max(r.worker_growth_kib for r in runs) / 1024,
        "worker_rss_growth_mib_runs": [round(r.worker_growth_kib / 1024, 1) for r in runs],
        "parent_rss_growth_mib_max": max(r.parent_growth_kib for r in runs) / 1024,
        "workers": runs[0].workers,
        "peak_from_vmhwm": all(r.hwm_exact for r in runs),
        "posters": sum(r.poster for r in runs),
    }
