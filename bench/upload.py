"""Upload throughput (raw socket, the file sent with sendfile) and the server's memory meanwhile."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.payload import multipart_frame
from bench.procmem import RssPeak
from bench.rawhttp import Answer, DiscardSink, exchange, request_head
from bench.service import Api, Service

BOUNDARY = "bench-7c1f0a9e3b5d4e2a"
MB = 1_000_000  # throughputs are in MB/s, 10^6 bytes a second, as dd prints them


@dataclass
class UploadRun:
    mb_s: float
    seconds: float
    client_cpu_share: float  # client CPU seconds over wall seconds
    rss_before_kib: int
    rss_peak_kib: int
    rss_growth_kib: int
    hwm_growth_kib: int


def _send(port: int, token: str, message_id: str, path: Path) -> Answer:
    prefix, suffix = multipart_frame(BOUNDARY, {"message_id": message_id}, path.name)
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


def upload_once(service: Service, token: str, message_id: str, path: Path) -> tuple[Answer, str, str]:
    """One upload; returns the answer, the new attachment's id and its stored file name."""
    answer = _send(service.port, token, message_id, path)
    if answer.status != 201:
        raise RuntimeError(f"upload of {path.name}: {answer.status} {answer.body[:500]!r}")
    attachment = json.loads(answer.body)[0]
    if attachment["size"] != path.stat().st_size:
        raise RuntimeError(f"upload of {path.name}: stored {attachment['size']} bytes")
    return answer, str(attachment["id"]), str(attachment["filename"])


def measure_uploads(
    service: Service, api: Api, token: str, message_id: str, path: Path, runs: int
) -> tuple[list[UploadRun], str]:
    """`runs` timed uploads, each watched for memory; all but the last are deleted afterwards
    (to keep the disk small). Returns the runs and the stored name of the kept one."""
    results: list[UploadRun] = []
    kept = ""
    size = path.stat().st_size
    for i in range(runs):
        with RssPeak(service.process.pid) as memory:
            answer, media_id, filename = upload_once(service, token, message_id, path)
        results.append(
            UploadRun(
                mb_s=size / answer.seconds / MB,
                seconds=answer.seconds,
                client_cpu_share=answer.client_cpu / answer.seconds,
                rss_before_kib=memory.before,
                rss_peak_kib=memory.peak,
                rss_growth_kib=memory.growth,
                hwm_growth_kib=memory.hwm_growth,
            )
        )
        if i < runs - 1:
            api.delete_media(media_id)
        else:
            kept = filename
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


def summary(runs: list[UploadRun]) -> dict[str, float]:
    return {
        "mb_s_median": statistics.median(r.mb_s for r in runs),
        "mb_s_runs": [round(r.mb_s, 1) for r in runs],  # type: ignore[dict-item]
        "seconds_median": statistics.median(r.seconds for r in runs),
        "client_cpu_share_median": statistics.median(r.client_cpu_share for r in runs),
        "rss_before_mib": runs[0].rss_before_kib / 1024,
        "rss_growth_mib_max": max(r.rss_growth_kib for r in runs) / 1024,
        "rss_growth_mib_first": runs[0].rss_growth_kib / 1024,
        "vmhwm_growth_mib_max": max(r.hwm_growth_kib for r in runs) / 1024,
    }
