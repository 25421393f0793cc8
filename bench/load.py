"""Request rates: wrk when it is on PATH, else a Python client (which shares the 2 cores)."""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass

from bench.rawhttp import exchange, request_head

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class Rate:
    client: str
    req_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers plus socket errors and timeouts
    seconds: float
    connections: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(url: str, headers: dict[str, str], connections: int, seconds: int) -> Rate:
    wrk = shutil.which("wrk")
    assert wrk is not None
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    found = dict(re.findall(r"^\s*(50%|99%)\s+(\S+)$", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(n) for n in sockets.groups()) if sockets else 0
    )
    return Rate(
        client="wrk -t1",
        req_s=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(found["50%"]),
        p99_ms=_ms(found["99%"]),
        requests=requests,
        errors=errors,
        seconds=float(seconds),
        connections=connections,
    )


async def _asyncio_load(
    port: int, path: str, headers: dict[str, str], connections: int, seconds: float
) -> Rate:
    """`connections` keep-alive HTTP/1.1 connections on asyncio streams, each asking in a loop.
    (httpx's pool is the bottleneck itself at 32 concurrent requests: a few hundred req/s.)"""
    request = request_head("GET", port, path, headers).replace(
        b"Connection: close", b"Connection: keep-alive"
    )
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        connects = 0
        while time.perf_counter() < deadline and connects < 10_000:
            connects += 1
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            except (OSError, TimeoutError):
                errors += 1
                continue
            try:
                while time.perf_counter() < deadline and len(latencies) < 2_000_000:
                    started = time.perf_counter()
                    writer.write(request)
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                    await asyncio.wait_for(reader.readexactly(int(length[1]) if length else 0), 10)
                    errors += not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2"))
                    latencies.append((time.perf_counter() - started) * 1000)
                    if re.search(rb"(?i)\r\nconnection:\s*close", head):
                        break  # the server closes this one (nginx after 1,000 requests): reconnect
            except asyncio.IncompleteReadError as exc:
                errors += bool(exc.partial)  # an idle keep-alive closed before a byte came: reconnect
            except (OSError, TimeoutError):
                errors += 1
            finally:
                writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    client = "Python asyncio raw HTTP/1.1 (no wrk; shares the 2 cores with the server)"
    return Rate(
        client, len(latencies) / elapsed, cuts[49], cuts[98], len(latencies), errors, elapsed, connections
    )


def request_rate(port: int, path: str, headers: dict[str, str], connections: int, seconds: int) -> Rate:
    if shutil.which("wrk"):
        return run_wrk(f"http://127.0.0.1:{port}{path}", headers, connections, seconds)
    return asyncio.run(_asyncio_load(port, path, headers, connections, seconds))


def ranged_rate(port: int, path: str, headers: dict[str, str], seconds: int, expect: int) -> Rate:
    """Many `Range` requests for the same bytes: wrk -c4, or one raw-socket client in a loop."""
    if shutil.which("wrk"):
        return run_wrk(f"http://127.0.0.1:{port}{path}", headers, 4, seconds)
    head = request_head("GET", port, path, headers)
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds and len(latencies) < 100_000:
        answer = exchange(port, head, keep_body=False, timeout=10.0)
        errors += answer.status != 206 or answer.body_bytes != expect
        latencies.append(answer.seconds * 1000)
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Rate(
        "Python raw socket, 1 connection at a time",
        len(latencies) / elapsed,
        cuts[49],
        cuts[98],
        len(latencies),
        errors,
        elapsed,
        1,
    )
