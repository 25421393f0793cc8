"""Download throughput of one stored file, from the service and from nginx, with the same client."""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path

from bench.rawhttp import exchange, request_head
from bench.upload import MB

RANGE = "bytes=0-1048575"
RANGE_BYTES = 1 << 20


def check_download(port: int, path: str, headers: dict[str, str], source: Path) -> dict[str, str]:
    """One whole download, compared byte for byte (by sha256) with what was uploaded, and one ranged
    request, checked for 206 and its length. Returns the whole download's headers."""
    answer = exchange(port, request_head("GET", port, path, headers))
    if answer.status != 200:
        raise RuntimeError(f"GET {path}: {answer.status} {answer.body[:300]!r}")
    digest = hashlib.sha256()
    with source.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    if hashlib.sha256(answer.body).hexdigest() != digest.hexdigest():
        raise RuntimeError(f"GET {path}: the bytes differ from the uploaded file")
    ranged = exchange(port, request_head("GET", port, path, {**headers, "Range": RANGE}))
    if ranged.status != 206 or len(ranged.body) != RANGE_BYTES:
        raise RuntimeError(f"GET {path} with Range: {ranged.status}, {len(ranged.body)} bytes")
    return answer.headers


def download_speeds(port: int, path: str, headers: dict[str, str], runs: int) -> list[float]:
    """MB/s of `runs` whole downloads, the body counted and dropped as it arrives."""
    head = request_head("GET", port, path, headers)
    speeds = []
    for _ in range(runs):
        answer = exchange(port, head, keep_body=False)
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: {answer.status}")
        speeds.append(answer.body_bytes / answer.seconds / MB)
    return speeds


def summary(speeds: list[float]) -> dict[str, object]:
    return {"mb_s_median": statistics.median(speeds), "mb_s_runs": [round(s, 1) for s in speeds]}
