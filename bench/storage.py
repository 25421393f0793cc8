"""Upload and download throughput through the service with its files on local disk, then in S3
(moto's server on loopback), on the same machine, with the same client and the same 50 MiB file.

    make bench-storage        (or: uv run python -m bench.storage)

Each figure stands beside the store's own ceiling: dd with fsync for the disk, and aiobotocore
talking to the S3 server with no service in between. moto is a Python server: its ceiling, not the
adapter, bounds the S3 column; against AWS or MinIO the same code has a far higher one.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import disk, download, upload
from bench.load import ranged_rate
from bench.objectstore import ObjectStore, raw_speeds, start_object_store
from bench.payload import MiB, sha256_of, write_mp4
from bench.report import RESULTS, Row, print_table
from bench.service import Api, Service, start_service

RUNS = 5
RANGED_SECONDS = 5
OUT = RESULTS.parent / "storage.json"


def _upload_speeds(service: Service, token: str, message_id: str, path: Path) -> tuple[list[float], str]:
    """MB/s of RUNS uploads, each answer checked (one attachment, the file's size and sha256); the
    last one is kept and its stored name returned."""
    api = Api(service, token)
    speeds, kept = [], ""
    try:
        for run in range(RUNS):
            answer = upload._send(service.port, token, message_id, path)
            if answer.status != 201:
                raise RuntimeError(f"upload: {answer.status} {answer.body[:300]!r}")
            (attachment,) = json.loads(answer.body)
            if attachment["size"] != path.stat().st_size or attachment["sha256"] != sha256_of(path):
                raise RuntimeError(f"upload: the answer does not describe the file: {attachment}")
            speeds.append(path.stat().st_size / answer.seconds / upload.MB)
            if run < RUNS - 1:
                api.delete_media(str(attachment["id"]))
            kept = str(attachment["filename"])
    finally:
        api.close()
    return speeds, kept


def _measure(name: str, service: Service, big: Path, small: Path) -> dict[str, object]:
    token = service.token("bench-alice")
    api = Api(service, token)
    try:
        message = api.message(api.conversation(), f"bench {name}")
    finally:
        api.close()
    upload._send(service.port, token, message, small)  # warm-up, not counted
    up, kept = _upload_speeds(service, token, message, big)
    auth = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/media/files/{kept}"
    size = big.stat().st_size
    download.check_download(service.port, path, auth, big)
    whole = download.download_speeds(service.port, path, auth, RUNS, size=size)
    as_range = download.download_speeds(
        service.port, path, {**auth, "Range": download.WHOLE_AS_RANGE}, RUNS, size=size, status=206
    )
    ranged = ranged_rate(
        service.port, path, {**auth, "Range": download.RANGE}, RANGED_SECONDS, download.RANGE_BYTES
    )
    return {
        "upload_50mib": download.summary(up),
        "download_50mib": download.summary(whole),
        "download_50mib_as_range": download.summary(as_range),
        "ranged_1mib": ranged.as_dict(),
        "log_problems": service.log_problems(),
    }


def _median(results: dict[str, object], store: str, measure: str) -> float:
    return float(results[store][measure]["mb_s_median"])  # type: ignore[index]


def run(workdir: Path) -> dict[str, object]:
    files = workdir / "files"
    files.mkdir()
    big = write_mp4(files / "bench-50mb.mp4", 50 * MiB)
    small = write_mp4(files / "bench-10mb.mp4", 10 * MiB)
    results: dict[str, object] = {
        "machine": {"cores": os.cpu_count(), "loadavg_at_start": os.getloadavg()},
        "units": "MB/s = 10^6 bytes per second",
    }
    print("local disk: starting the service", flush=True)
    local = start_service(workdir / "local")
    try:
        results["local"] = _measure("local", local, big, small)
    finally:
        local.stop()
    results["dd_write_50mib"] = disk.summary(disk.dd_write(workdir, 50, 3))

    print("S3: starting moto, then the service with STORAGE=s3", flush=True)
    store: ObjectStore = start_object_store(workdir / "moto.log")
    try:
        s3 = start_service(workdir / "s3", store.env())
        try:
            results["s3"] = _measure("s3", s3, big, small)
        finally:
            s3.stop()
        ceiling = raw_speeds(store, big, 3)
        results["s3_server_alone"] = {k: download.summary(v) for k, v in ceiling.items()}
    finally:
        store.stop()
    results["machine"]["loadavg_at_end"] = os.getloadavg()  # type: ignore[index]
    return results


def table(results: dict[str, object]) -> tuple[list[Row], list[str]]:
    def mb(value: float) -> str:
        return f"{value:,.0f} MB/s"

    ceiling = results["s3_server_alone"]
    put = statistics.median(ceiling["put"]["mb_s_runs"])  # type: ignore[index]
    get = statistics.median(ceiling["get"]["mb_s_runs"])  # type: ignore[index]
    dd = float(results["dd_write_50mib"]["mb_s_median"])  # type: ignore[index]
    rows = []
    for measure, label, s3_peer, local_peer in (
        ("upload_50mib", "Upload 50 MiB", put, dd),
        ("download_50mib", "Download 50 MiB (200)", get, None),
        ("download_50mib_as_range", "Download 50 MiB as bytes=0- (206)", get, None),
    ):
        local_value, s3_value = _median(results, "local", measure), _median(results, "s3", measure)
        rows.append(
            Row(
                label,
                f"local {mb(local_value)}",
                "S3",
                mb(s3_value),
                f"S3 server alone: {mb(s3_peer)}" + (f"; dd+fsync {mb(local_peer)}" if local_peer else ""),
                f"S3/local {s3_value / local_value:.0%}",
            )
        )
    local_ranged = results["local"]["ranged_1mib"]["req_s"]  # type: ignore[index]
    s3_ranged = results["s3"]["ranged_1mib"]["req_s"]  # type: ignore[index]
    rows.append(
        Row("1 MiB ranges", f"local {local_ranged:,.0f} req/s", "S3", f"{s3_ranged:,.0f} req/s", "—", "")
    )
    notes = [
        "Same machine, same client (raw socket, sendfile), same 50 MiB MP4, one granian worker each, SQLite.",
        "A whole local download is handed to granian by pathsend; S3 has no local path, so every S3 "
        "download streams through Python, by ranged GETs of the object.",
        "moto is a Python server: the 'S3 server alone' figures are its ceiling, and the S3 column "
        "cannot pass them; against MinIO or AWS the ceiling is the network's.",
        f"Load average at start {results['machine']['loadavg_at_start']}, at end "  # type: ignore[index]
        f"{results['machine']['loadavg_at_end']}: others share this machine.",  # type: ignore[index]
    ]
    return rows, notes


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="chat-media-bench-storage-"))
    started = time.monotonic()
    try:
        results = run(workdir)
    except Exception as exc:
        print(f"bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows, notes = table(results)
    print_table(rows, notes)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\n{time.monotonic() - started:.0f} s; JSON: {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
