"""This checkout's upload against another checkout's (say, the commit before a change), in turns
on the same machine in one run: `python -m bench.upload_ab OTHER_CHECKOUT [runs]`.

Both services run side by side (each its own venv, temp SQLite and uploads); each round uploads
the 50 MiB .zip once to each, the order swapped every other round, so a burst of load from others
falls on both alike. dd with fsync runs at the start and the end, beside. Prints the medians and
ranges (MB/s), and each worker's peak RSS growth.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from bench import disk
from bench.payload import MiB, write_zip
from bench.procmem import RssPeak
from bench.service import REPO, Api, Service, start_service
from bench.upload import MB, upload_once

RUNS = 11


def start_checkout(repo: Path, workdir: Path) -> Service:
    """`chat-media serve` of `repo`, in its own venv, with a token for bench-alice in its env."""
    service = start_service(workdir, repo=repo)
    service.env["BENCH_TOKEN"] = service.token("bench-alice")  # any checkout's CLI mints alike
    return service


def main() -> int:
    other = Path(sys.argv[1]).resolve()
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else RUNS
    sides = {"before": other, "after": REPO}
    with tempfile.TemporaryDirectory(prefix="chat-media-upload-ab-") as tmp:
        workdir = Path(tmp)
        zip_file = write_zip(workdir / "bench-50mb.zip", 50 * MiB)
        dd = disk.dd_write(workdir, 50, 3)
        services = {name: start_checkout(repo, workdir / name) for name, repo in sides.items()}
        speeds: dict[str, list[float]] = {name: [] for name in sides}
        growth: dict[str, list[float]] = {name: [] for name in sides}
        try:
            apis = {name: Api(s, s.env["BENCH_TOKEN"]) for name, s in services.items()}
            messages = {name: api.message(api.conversation(), "a/b") for name, api in apis.items()}
            for i in range(-2, runs):  # two warm-up rounds
                for name in list(sides) if i % 2 == 0 else list(reversed(sides)):
                    service = services[name]
                    with RssPeak(service.process.pid) as memory:
                        answer, attachment = upload_once(
                            service, service.env["BENCH_TOKEN"], messages[name], zip_file
                        )
                    apis[name].delete_media(str(attachment["id"]))
                    if i >= 0:
                        speeds[name].append(zip_file.stat().st_size / answer.seconds / MB)
                        growth[name].append(memory.worker_growth / 1024)
            for api in apis.values():
                api.close()
        finally:
            for service in services.values():
                service.stop()
        dd += disk.dd_write(workdir, 50, 3)
    for name in sides:
        s = speeds[name]
        print(
            f"{name:>6}: {statistics.median(s):6.0f} MB/s median ({min(s):.0f}-{max(s):.0f}), "
            f"{50 * MiB / statistics.median(s) / 1000:.1f} ms; runs {[round(x) for x in s]}; "
            f"worker RSS growth max {max(growth[name]):.1f} MiB"
        )
    print(f"    dd: {statistics.median(dd):6.0f} MB/s median ({min(dd):.0f}-{max(dd):.0f}), with fsync")
    for name in sides:
        print(f"{name:>6} / dd: {statistics.median(speeds[name]) / statistics.median(dd):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
