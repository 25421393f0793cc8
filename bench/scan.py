"""Malware scanning's cost: 50 MB through clamd's INSTREAM, and a 50 MB upload with and without it.

    python -m bench.scan          (or: make bench-scan)

1. The adapter alone (`ClamdScanner`, the file read in its chunks as a staged file is), `RUNS`
   times, median and spread, beside two peers over the same socket and file: a raw INSTREAM from
   blocking Python (1 MiB chunks, no event loop: the protocol's floor) and `clamdscan --stream`
   when it is installed.
2. The service as a process (granian, SQLite, local disk): the same 50 MB .zip uploaded `RUNS`
   times to one with SCAN=clamav and to one without, in turns; the difference is what a user waits
   for the scan.

clamd runs with the test signature database (bench/clamd.py: EICAR's alone), so the figure is the
cost of streaming, unpacking and matching one signature: a real database (millions of signatures)
costs more per byte, mostly in matching. Results go to bench/results/scan.json.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio

from adapters.scan_clamd import ClamdScanner
from bench.clamd import INSTALL_HINT, Clamd, clamd_binary, prepare_clamd
from bench.payload import write_zip
from bench.report import RESULTS
from bench.service import Api, Service, start_service
from bench.upload import upload_once

RUNS = 7
SIZE = 50 * 1_000_000
MB = 1_000_000


class FileSource:
    """A MediaSource over a file, read as the disk store's staged file reads (blocking reads)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.size = path.stat().st_size

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        with self._path.open("rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                chunk = await anyio.to_thread.run_sync(f.read, min(chunk_size, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk


def raw_instream(socket_path: Path, path: Path) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, path.open("rb") as f:
        sock.connect(str(socket_path))
        sock.sendall(b"zINSTREAM\0")
        while chunk := f.read(1 << 20):
            sock.sendall(struct.pack(">I", len(chunk)) + chunk)
        sock.sendall(struct.pack(">I", 0))
        return sock.recv(4096).rstrip(b"\0").decode()


def timed(runs: int, action: Callable[[], object]) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return summary(seconds)


def summary(seconds: list[float]) -> dict[str, float]:
    median = statistics.median(seconds)
    return {
        "median_s": round(median, 4),
        "min_s": round(min(seconds), 4),
        "max_s": round(max(seconds), 4),
        "mb_s": round(SIZE / MB / median, 1),
    }


def scan_alone(clamd: Clamd, path: Path) -> dict[str, dict[str, float]]:
    scanner = ClamdScanner(socket_path=clamd.socket_path, timeout=60)

    def adapter() -> None:
        verdict = anyio.run(scanner.scan, FileSource(path))
        assert verdict.clean, verdict

    results = {
        "adapter": timed(RUNS, adapter),
        "raw_socket": timed(RUNS, lambda: raw_instream(clamd.socket_path, path)),
    }
    clamdscan = shutil.which("clamdscan")
    if clamdscan is not None:
        conf = clamd.workdir / "clamd.conf"
        command = [clamdscan, "--stream", "--no-summary", f"--config-file={conf}", str(path)]
        results["clamdscan_stream"] = timed(
            RUNS, lambda: subprocess.run(command, check=True, capture_output=True)
        )
    return results


def uploads(workdir: Path, clamd: Clamd, path: Path) -> dict[str, dict[str, float]]:
    env = {"MAX_UPLOAD_SIZE": str(64 << 20), "UPLOAD_RATE": "0"}
    scanning = {**env, "SCAN": "clamav", "CLAMD_SOCKET": str(clamd.socket_path), "CLAMD_TIMEOUT": "60"}
    services: dict[str, Service] = {}
    try:
        services["without_scan"] = start_service(workdir / "plain", env)
        services["with_scan"] = start_service(workdir / "scan", scanning)
        targets = {}
        for name, service in services.items():
            token = service.token("alice")
            api = Api(service, token)
            targets[name] = (service, token, api.message(api.conversation(), "bench"), api)
        seconds: dict[str, list[float]] = {name: [] for name in services}
        for run in range(RUNS):
            order = list(targets) if run % 2 == 0 else list(reversed(targets))
            for name in order:
                service, token, message_id, api = targets[name]
                started = time.perf_counter()
                _, attachment = upload_once(service, token, message_id, path)
                seconds[name].append(time.perf_counter() - started)
                api.delete_media(str(attachment["id"]))
        for _, _, _, api in targets.values():
            api.close()
        return {name: summary(values) for name, values in seconds.items()}
    finally:
        for service in services.values():
            service.stop()


def main() -> int:
    binary = clamd_binary()
    if binary is None:
        print(f"bench.scan skipped: clamd is not installed ({INSTALL_HINT})")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        workdir = Path(tmp)
        path = write_zip(workdir / "bench.zip", SIZE)
        clamd = prepare_clamd(binary, workdir / "clamd")
        try:
            clamd.start()
            results: dict[str, object] = {
                "size_bytes": SIZE,
                "runs": RUNS,
                "load_average": os.getloadavg(),
                "scan_alone": scan_alone(clamd, path),
                "upload": uploads(workdir, clamd, path),
            }
        finally:
            clamd.stop()
    out = RESULTS.parent / "scan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    upload = results["upload"]
    assert isinstance(upload, dict)
    extra = upload["with_scan"]["median_s"] - upload["without_scan"]["median_s"]
    print(f"the scan adds {extra:.3f} s (median) to a 50 MB upload; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
