"""Download throughput of one stored file, from the service and from nginx, with the same client."""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path

from bench.payload import sha256_of
from bench.rawhttp import exchange, request_head
from bench.upload import MB

RANGE = "bytes=0-1048575"
RANGE_BYTES = 1 << 20
WHOLE_AS_RANGE = "bytes=0-"  # the whole file as a 206: never pathsend, the service streams it itself


def check_download(port: int, path: str, headers: dict[str, str], source: Path) -> dict[str, str]:
    """One whole download compared (by sha256) with what was uploaded, one ranged request compared
    with the file's first MiB, one `bytes=0-` checked for 206 and its length. Returns the whole
    download's headers."""
    size = source.stat().st_size
    answer = exchange(port, request_head("GET", port, path, headers))
    if answer.status != 200:
        raise RuntimeError(f"GET {path}: {answer.status} {answer.body[:300]!r}")
    if answer.headers.get("content-length") != str(size):
        raise RuntimeError(f"GET {path}: Content-Length {answer.headers.get('content-length')}, not {size}")
    if hashlib.sha256(answer.body).hexdigest() != sha256_of(source):
        raise RuntimeError(f"GET {path}: the bytes differ from the uploaded file")
    ranged = exchange(port, request_head("GET", port, path, {**headers, "Range": RANGE}))
    with source.open("rb") as f:
        first = f.read(RANGE_BYTES)
    if ranged.status != 206 or ranged.body != first:
        raise RuntimeError(
            f"GET {path} with Range: {ranged.status}, {len(ranged.body)} bytes (or not the file's)"
        )
    if ranged.headers.get("content-range") != f"bytes 0-{RANGE_BYTES - 1}/{size}":
        raise RuntimeError(f"GET {path} with Range: Content-Range {ranged.headers.get('content-range')}")
    rest = exchange(
        port, request_head("GET", port, path, {**headers, "Range": WHOLE_AS_RANGE}), keep_body=False
    )
    if rest.status != 206 or rest.body_bytes != size:
        raise RuntimeError(f"GET {path} with Range {WHOLE_AS_RANGE}: {rest.status}, {rest.body_bytes} bytes")
    return answer.headers


def download_speeds(
    port: int, path: str, headers: dict[str, str], runs: int, *, size: int, status: int = 200
) -> list[float]:
    """MB/s of `runs` downloads of `size` bytes, the body counted and dropped as it arrives."""
    head = request_head("GET", port, path, headers)
    speeds = []
    for _ in range(runs):
        answer = exchange(port, head, keep_body=False)
        if answer.status != status or answer.body_bytes != size:
            raise RuntimeError(f"GET {path}: {answer.status}, {answer.body_bytes} bytes")
        speeds.append(answer.body_bytes / answer.seconds / MB)
    return speeds


def summary(speeds: list[float]) -> dict[str, object]:
    return {"mb_s_median": statistics.median(speeds), "mb_s_runs": [round(s, 1) for s in speeds]}
