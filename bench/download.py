"""Download throughput of one stored file, from the service, from nginx in front of it (the service
hands the bytes over with X-Accel-Redirect) and from nginx alone, with the same client, the servers
taking turns so that what else runs on the machine falls on each alike."""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.load import Rate, ranged_rate
from bench.payload import sha256_of
from bench.rawhttp import exchange, request_head
from bench.upload import MB

RANGE = "bytes=0-1048575"
RANGE_BYTES = 1 << 20
WHOLE_AS_RANGE = "bytes=0-"  # the whole file as a 206 (what a browser asks for a video): pathsend too
ALL_BUT_ONE = "bytes=1-"  # a 206 of all but the first byte: the service streams it itself, 1 MiB at a time
# (key, extra Range, status, bytes short of the file): the downloads timed for every server.
DOWNLOADS = (
    ("whole", None, 200, 0),
    ("whole_as_range", WHOLE_AS_RANGE, 206, 0),
    ("all_but_one", ALL_BUT_ONE, 206, 1),
)


@dataclass(frozen=True)
class Peer:
    port: int
    path: str
    headers: dict[str, str]


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


def interleaved(
    peers: dict[str, Peer], source: Path, runs: int, rounds: int, seconds: int
) -> dict[str, object]:
    """For each peer: its headers (after `check_download`), each of DOWNLOADS `runs` times, and
    1 MiB ranged GETs for `seconds` in each of `rounds`. Every run and round visits every peer, in
    an order that rotates."""
    size = source.stat().st_size
    names = list(peers)
    results: dict[str, dict[str, object]] = {}
    for name, peer in peers.items():
        results[name] = {"headers": check_download(peer.port, peer.path, peer.headers, source)}

    def turns(n: int) -> list[str]:
        return names[n % len(names) :] + names[: n % len(names)]

    for key, extra, status, short in DOWNLOADS:
        speeds: dict[str, list[float]] = {name: [] for name in names}
        for n in range(runs):
            for name in turns(n):
                peer = peers[name]
                asked = {**peer.headers, **({"Range": extra} if extra else {})}
                speeds[name] += download_speeds(
                    peer.port, peer.path, asked, 1, size=size - short, status=status
                )
        for name in names:
            results[name][key] = summary(speeds[name])
    rates: dict[str, list[Rate]] = {name: [] for name in names}
    for n in range(rounds):
        for name in turns(n):
            peer = peers[name]
            asked = {**peer.headers, "Range": RANGE}
            rates[name].append(ranged_rate(peer.port, peer.path, asked, seconds, RANGE_BYTES))
    for name in names:
        by_rate = sorted(rates[name], key=lambda r: r.req_s)
        median = by_rate[len(by_rate) // 2].as_dict()  # the median round, with its latencies
        median["req_s_rounds"] = [round(r.req_s, 1) for r in rates[name]]
        results[name]["ranged"] = median
    return dict(results)


def whole_in_turns(peers: dict[str, Peer], size: int, runs: int) -> dict[str, dict[str, object]]:
    """Each peer's whole-file GET (200) `runs` times, the peers taking turns: for servers that
    answer nothing else (the pathsend floor)."""
    names = list(peers)
    speeds: dict[str, list[float]] = {name: [] for name in names}
    for n in range(runs):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            peer = peers[name]
            speeds[name] += download_speeds(peer.port, peer.path, peer.headers, 1, size=size)
    return {name: summary(runs_) for name, runs_ in speeds.items()}


def handed_over(port: int, path: str, headers: dict[str, str]) -> str:
    """The X-Accel-Redirect of the service behind nginx for a whole GET asked as nginx asks (it
    must send no bytes)."""
    asked = {**headers, "X-Sendfile-Type": "X-Accel-Redirect"}
    answer = exchange(port, request_head("GET", port, path, asked))
    target = answer.headers.get("x-accel-redirect")
    if answer.status != 200 or target is None or answer.body:
        raise RuntimeError(
            f"GET {path} from the service behind nginx: {answer.status}, X-Accel-Redirect {target}, "
            f"{len(answer.body)} bytes: it should hand the download to nginx"
        )
    return target
