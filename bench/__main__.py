"""Runs every measurement against a fresh service process, prints the table, writes the JSON."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import disk, download, upload
from bench.load import Rate, ranged_rate, request_rate
from bench.nginx import INSTALL_HINT, Nginx, nginx_binary, start_nginx
from bench.payload import MiB, write_mp4
from bench.report import print_table, write_json
from bench.service import Api, Service, start_service
from bench.summary import build_rows

RUNS = 5
LISTING_SECONDS = 10
RANGED_SECONDS = 5
TOTAL_BUDGET = 900.0  # seconds: the whole run gives up past this


def _step(name: str, started: float) -> None:
    elapsed = time.monotonic() - started
    if elapsed > TOTAL_BUDGET:
        raise TimeoutError(f"the benchmark ran over its {TOTAL_BUDGET:g} s budget before '{name}'")
    print(f"[{elapsed:6.1f} s] {name}", flush=True)


def run(workdir: Path) -> dict[str, object]:
    started = time.monotonic()
    results: dict[str, object] = {
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(), "python": sys.version.split()[0]},
        "units": "MB/s = 10^6 bytes per second; MiB = 2^20 bytes",
    }
    files = workdir / "files"
    files.mkdir()
    big = write_mp4(files / "bench-50mb.mp4", 50 * MiB)
    small = write_mp4(files / "bench-10mb.mp4", 10 * MiB)
    service: Service | None = None
    nginx: Nginx | None = None
    api: Api | None = None
    try:
        _step("starting the service (granian, 1 worker, temp SQLite and uploads)", started)
        service = start_service(workdir / "service")
        token = service.token("bench-alice")
        auth = {"Authorization": f"Bearer {token}"}
        api = Api(service, token)
        conversation = api.conversation()
        message = api.message(conversation, "bench uploads")
        listed = api.message(conversation, "three attachments")
        api.upload_small(
            listed, [(f"clip{i}.mp4", write_mp4(files / f"c{i}.mp4", 4096).read_bytes()) for i in range(3)]
        )

        _step("warm-up upload (10 MiB, not counted)", started)
        _, warm_id, _ = upload.upload_once(service, token, message, small)
        api.delete_media(warm_id)
        _step(f"uploading 10 MiB x{RUNS}", started)
        up10, _ = upload.measure_uploads(service, api, token, message, small, RUNS)
        _step(f"uploading 50 MiB x{RUNS}", started)
        up50, kept = upload.measure_uploads(service, api, token, message, big, RUNS)
        results["upload_10mib"] = upload.summary(up10)
        results["upload_50mib"] = upload.summary(up50)
        _step("the upload client alone, against a discard sink", started)
        results["upload_client_ceiling"] = disk.summary(upload.client_ceiling(big, 3))
        _step("dd write of 50 MiB with fsync x3", started)
        results["dd_write_50mib"] = disk.summary(disk.dd_write(workdir, 50, 3))

        path = f"/api/v1/media/files/{kept}"
        _step(f"downloading 50 MiB from the service x{RUNS}, then ranged for {RANGED_SECONDS} s", started)
        results["service_headers"] = download.check_download(service.port, path, auth, big)
        results["download_service"] = download.summary(
            download.download_speeds(service.port, path, auth, RUNS)
        )
        results["ranged_service"] = ranged_rate(
            service.port, path, {**auth, "Range": download.RANGE}, RANGED_SECONDS, download.RANGE_BYTES
        ).as_dict()

        binary = nginx_binary()
        if binary is None:
            print(f"nginx is not on PATH: its figures are skipped. Install it with:\n  {INSTALL_HINT}")
        else:
            _step(f"downloading the same file from nginx x{RUNS}, then ranged", started)
            stored = next(service.upload_dir.rglob(kept))
            nginx = start_nginx(binary, stored.parent, workdir / "nginx")
            download.check_download(nginx.port, f"/{kept}", {}, big)
            results["download_nginx"] = download.summary(
                download.download_speeds(nginx.port, f"/{kept}", {}, RUNS)
            )
            results["ranged_nginx"] = ranged_rate(
                nginx.port, f"/{kept}", {"Range": download.RANGE}, RANGED_SECONDS, download.RANGE_BYTES
            ).as_dict()
            nginx.stop()

        listing_path = f"/api/v1/media/message/{listed}"
        count = len(api.client.get(listing_path).json())
        if count != 3:
            raise RuntimeError(f"the listed message has {count} attachments, not 3")
        _step(f"GET {listing_path.rsplit('/', 1)[0]}/… with 32 connections for {LISTING_SECONDS} s", started)
        listing: Rate = request_rate(service.port, listing_path, auth, 32, LISTING_SECONDS)
        results["listing"] = listing.as_dict()
        _step("done", started)
    finally:
        if api is not None:
            api.close()
        if nginx is not None:
            nginx.stop()
        if service is not None:
            service.stop()
    return results


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="chat-media-bench-"))
    try:
        results = run(workdir)
    except Exception as exc:
        log = workdir / "service" / "server.log"
        if log.is_file():
            print(f"--- the service's log (tail) ---\n{log.read_text()[-3000:]}", file=sys.stderr)
        print(f"bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows, notes = build_rows(results)
    print_table(rows, notes)
    print(f"\nJSON: {write_json(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
