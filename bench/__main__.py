"""Runs every measurement against a fresh service process, prints the table, writes the JSON.

`python -m bench` runs everything (the WebSocket fan-out last, against services of its own);
`python -m bench upload` runs the uploads alone, with dd beside them (JSON in bench/results/upload.json);
`python -m bench download` runs the downloads alone: service, nginx -> service, nginx (JSON in
bench/results/download.json);
`python -m bench ws` runs the WebSocket fan-out alone (JSON in bench/results/ws.json)."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench import disk, download, postgres, remux, upload, upload_breakdown, ws_fanout
from bench.load import Rate, request_rate
from bench.nginx import INSTALL_HINT, Nginx, make_root, nginx_binary, start_front, start_static
from bench.payload import MiB, write_mp4, write_video, write_zip
from bench.report import RESULTS, WS_RESULTS, Row, print_table, write_json
from bench.service import Api, Service, start_pathsend_floor, start_service
from bench.summary import build_rows, download_rows, upload_rows, ws_rows

RUNS = 5
BREAKDOWN_RUNS = 9  # traced uploads of the 50 MiB .zip, for where its milliseconds go
DOWNLOAD_RUNS = 21  # a 50 MiB download is ~20-60 ms here: many, taking turns, for a median that holds
LISTING_SECONDS = 10
FLOOR_SECONDS = 5  # /health (one trivial query) and a 401 (no database): what the listing is up against
RANGED_SECONDS = 3
RANGED_ROUNDS = 3  # each peer's ranged rate is the median of this many rounds, peers taking turns
ACCEL_PREFIX = "/_stored/"
LISTING_CONNECTIONS = 32
TOTAL_BUDGET = 900.0  # seconds: the whole run gives up past this
WS_BUDGET = 700.0  # seconds, for the WebSocket fan-out (each of its scenarios is bounded besides)


def _step(name: str, started: float) -> None:
    elapsed = time.monotonic() - started
    if elapsed > TOTAL_BUDGET:
        raise TimeoutError(f"the benchmark ran over its {TOTAL_BUDGET:g} s budget before '{name}'")
    print(f"[{elapsed:6.1f} s] {name}", flush=True)


def _listed_message(api: Api, conversation: str, files: Path) -> tuple[str, httpx.Response]:
    """A message with three small attachments; the path of its listing and the checked answer."""
    listed = api.message(conversation, "three attachments")
    api.upload_small(
        listed, [(f"clip{i}.mp4", write_mp4(files / f"c{i}.mp4", 4096).read_bytes()) for i in range(3)]
    )
    path = f"/api/v1/media/message/{listed}"
    answer = api.client.get(path)
    if answer.status_code != 200 or len(answer.json()) != 3:
        raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return path, answer


def _postgres_listing(workdir: Path, files: Path) -> dict[str, object]:
    """The listing's rate from a service of its own whose database is PostgreSQL (production's)."""
    with postgres.fresh_database() as database_url:
        service = start_service(workdir / "postgres", {"DATABASE_URL": database_url})
        api = Api(service, service.token("bench-alice"))
        try:
            path, _ = _listed_message(api, api.conversation(), files)
            auth = {"Authorization": api.client.headers["Authorization"]}
            rate = request_rate(service.port, path, auth, LISTING_CONNECTIONS, LISTING_SECONDS).as_dict()
            rate["log_problems"] = service.log_problems()
            return rate
        finally:
            api.close()
            service.stop()


def _downloads(
    workdir: Path, service: Service, auth: dict[str, str], stored: str, source: Path, started: float
) -> dict[str, object]:
    """The stored file `stored` (uploaded from `source`) downloaded from the service, from nginx
    alone (the same file hard-linked into a root), from nginx in front of a second service process
    (the same database, files and secret, ACCEL_REDIRECT_PREFIX set, the repository's template),
    and, when PostgreSQL answers, from nginx in front of a service on PostgreSQL (production's
    database: the same file uploaded to it), all taking turns."""
    file_path = f"/api/v1/media/files/{stored}"
    peers = {"service_download": download.Peer(service.port, file_path, auth)}
    results: dict[str, object] = {}
    binary = nginx_binary()
    servers: list[Service | Nginx] = []
    fronts: list[tuple[Service, Nginx]] = []
    try:
        with ExitStack() as databases:
            if binary is None:
                print(f"nginx is not on PATH: its figures are skipped. Install it with:\n  {INSTALL_HINT}")
            else:
                _step("nginx alone (the same file hard-linked into a root), and nginx -> service", started)
                root = make_root(workdir / "nginx-root", [service.upload_dir / stored], {})
                nginx = start_static(binary, root, workdir / "nginx")
                servers.append(nginx)
                peers["nginx_download"] = download.Peer(nginx.port, f"/{stored}", {})
                shared = {k: service.env[k] for k in ("DATABASE_URL", "UPLOAD_DIR", "JWT_SECRET")}
                behind = start_service(
                    workdir / "behind-nginx", {**shared, "ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX}
                )
                servers.append(behind)

                def in_front(
                    behind: Service, files: Path, name: str, path: str, headers: dict[str, str]
                ) -> download.Peer:
                    """nginx with the template in front of `behind` (whose UPLOAD_DIR is `files`),
                    checked to be handed the download."""
                    front = start_front(
                        binary, workdir / name, upstream=behind.port, upload_dir=files, prefix=ACCEL_PREFIX
                    )
                    servers.append(front)
                    fronts.append((behind, front))
                    download.handed_over(behind.port, path, headers)
                    return download.Peer(front.port, path, headers)

                peers["front_download"] = in_front(behind, service.upload_dir, "front", file_path, auth)
                reason = postgres.unavailable()
                if reason is None:
                    _step("nginx -> service on PostgreSQL (the same file uploaded to it)", started)
                    url = databases.enter_context(postgres.fresh_database())
                    on_pg = start_service(
                        workdir / "behind-nginx-pg",
                        {"DATABASE_URL": url, "ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX},
                    )
                    servers.append(on_pg)
                    token = on_pg.token("bench-alice")
                    api = Api(on_pg, token)
                    try:
                        message = api.message(api.conversation(), "bench downloads")
                        _, uploaded = upload.upload_once(on_pg, token, message, source)
                    finally:
                        api.close()
                    pg_path = f"/api/v1/media/files/{uploaded['filename']}"
                    pg_auth = {"Authorization": f"Bearer {token}"}
                    peers["front_download_postgres"] = in_front(
                        on_pg, on_pg.upload_dir, "front-pg", pg_path, pg_auth
                    )
                else:
                    print(f"nginx -> service on PostgreSQL is skipped: {reason}")
            _step(
                f"downloading 50 MiB from {', '.join(peers)}, taking turns: x{DOWNLOAD_RUNS} each way, "
                f"then ranged {RANGED_ROUNDS} x {RANGED_SECONDS} s each",
                started,
            )
            results.update(download.interleaved(peers, source, DOWNLOAD_RUNS, RANGED_ROUNDS, RANGED_SECONDS))
            _step(
                f"the service alone and granian's pathsend floor (a bare app), in turns x{DOWNLOAD_RUNS}",
                started,
            )
            floor = start_pathsend_floor(workdir / "pathsend-floor", service.upload_dir)
            servers.append(floor)
            paired = download.whole_in_turns(
                {"service": peers["service_download"], "floor": download.Peer(floor.port, f"/{stored}", {})},
                source.stat().st_size,
                DOWNLOAD_RUNS,
            )
            results["pathsend_floor"] = {"service": paired["service"], "floor": paired["floor"]}
            results["front_log_problems"] = [
                line
                for behind, front in fronts
                for line in behind.log_problems()
                + [x for x in front.errors().splitlines() if "[error]" in x or "[alert]" in x]
            ]
            for server in reversed(servers):  # before the database is dropped
                server.stop()
    finally:
        for server in reversed(servers):
            server.stop()
    return results


def run(workdir: Path, service_log: Path, *, only: str | None = None) -> dict[str, object]:
    """Everything but the fan-out; `only="upload"` stops after the uploads, `only="download"` uploads
    the 50 MiB video once (untimed) and runs the downloads alone."""
    started = time.monotonic()
    machine: dict[str, object] = {
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "loadavg_at_start": os.getloadavg(),  # others share this machine: figures are provisional
    }
    results: dict[str, object] = {
        "machine": machine,
        "units": "MB/s = 10^6 bytes per second; MiB = 2^20 bytes",
    }
    files = workdir / "files"
    files.mkdir()
    # The documents are #2's path (no processing); the videos are real ones, so their uploads
    # include what processing costs (ffprobe, a poster frame, the thumbnail published beside).
    video = write_video if shutil.which("ffmpeg") and shutil.which("ffprobe") else write_mp4
    uploads = {
        "upload_50mib_zip": write_zip(files / "bench-50mb.zip", 50 * MiB),
        "upload_50mib_mp4": video(files / "bench-50mb.mp4", 50 * MiB),
        "upload_10mib_zip": write_zip(files / "bench-10mb.zip", 10 * MiB),
        "upload_10mib_mp4": video(files / "bench-10mb.mp4", 10 * MiB),
    }
    big = uploads["upload_50mib_mp4"]
    results["video_processing"] = video is write_video  # else no ffmpeg: videos are kept as they came
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
        listing_path, listing_answer = _listed_message(api, conversation, files)

        if only == "download":
            _step("uploading the 50 MiB video once (not timed)", started)
            _, stored = upload.upload_once(service, token, message, big)
            name = str(stored["filename"])
            results.update(_downloads(workdir, service, auth, name, service.upload_dir / name, started))
            _step("done", started)
            machine["loadavg_at_end"] = os.getloadavg()
            return results
        _step("warm-up uploads (10 MiB .zip and .mp4, not counted)", started)
        for key in ("upload_10mib_zip", "upload_10mib_mp4"):
            _, warm = upload.upload_once(service, token, message, uploads[key])
            api.delete_media(str(warm["id"]))
        _step(f"uploading 50 and 10 MiB, .zip and .mp4, in turns x{RUNS}", started)
        measured, kept_names = upload.measure_uploads(service, api, token, message, uploads, RUNS)
        for key, runs in measured.items():
            results[key] = upload.summary(runs)
        kept = kept_names["upload_50mib_mp4"]
        if results["video_processing"]:
            _step(f"the remux alone of the 50 MiB video x{RUNS}", started)
            results["remux_50mib_alone"] = remux.remux_times(big, RUNS)
        _step("the upload client alone, against a discard sink", started)
        results["upload_client_ceiling"] = disk.summary(upload.client_ceiling(uploads["upload_50mib_zip"], 3))
        _step("dd write of 50 MiB with fsync x3", started)
        results["dd_write_50mib"] = disk.summary(disk.dd_write(workdir, 50, 3))
        _step(f"one 50 MiB .zip upload step by step (a traced service of its own) x{BREAKDOWN_RUNS}", started)
        (workdir / "breakdown").mkdir()
        results["upload_breakdown"] = upload_breakdown.measure(
            workdir / "breakdown", uploads["upload_50mib_zip"], BREAKDOWN_RUNS
        ).as_dict()
        if only == "upload":
            _step("done", started)
            machine["loadavg_at_end"] = os.getloadavg()
            return results

        results.update(_downloads(workdir, service, auth, kept, service.upload_dir / kept, started))
        binary = nginx_binary()
        if binary is not None:
            root = make_root(workdir / "nginx-listing-root", [], {"listing.json": listing_answer.content})
            nginx = start_static(binary, root, workdir / "nginx-listing")
        if nginx is not None:
            _step(f"the listing body as a static file from nginx, {LISTING_SECONDS} s", started)
            results["nginx_listing"] = request_rate(
                nginx.port, "/listing.json", {}, LISTING_CONNECTIONS, LISTING_SECONDS
            ).as_dict()
            nginx.stop()

        _step(
            f"GET /api/v1/media/message/… with {LISTING_CONNECTIONS} connections for {LISTING_SECONDS} s",
            started,
        )
        listing: Rate = request_rate(service.port, listing_path, auth, LISTING_CONNECTIONS, LISTING_SECONDS)
        results["listing"] = listing.as_dict()
        _step(f"floors: /health, and the listing without a token, {FLOOR_SECONDS} s each", started)
        results["health"] = request_rate(
            service.port, "/health", {}, LISTING_CONNECTIONS, FLOOR_SECONDS
        ).as_dict()
        results["no_token"] = request_rate(
            service.port, listing_path, {}, LISTING_CONNECTIONS, FLOOR_SECONDS
        ).as_dict()
        reason = postgres.unavailable()
        if reason is None:
            _step(f"the same listing, the database PostgreSQL, {LISTING_SECONDS} s", started)
            results["listing_postgres"] = _postgres_listing(workdir, files)
        else:
            print(f"the PostgreSQL listing is skipped: {reason}")
            results["listing_postgres"] = {"skipped": reason}
        _step("done", started)
    finally:
        if api is not None:
            api.close()
        if nginx is not None:
            nginx.stop()
        if service is not None:
            service.stop()
            results["service_log_problems"] = service.log_problems()
            if service.log.is_file():
                shutil.copyfile(service.log, service_log)
    machine["loadavg_at_end"] = os.getloadavg()
    return results


def run_ws(workdir: Path) -> dict[str, object]:
    """The WebSocket fan-out (bench/ws_fanout.py), its services' logs kept in bench/results/."""
    started = time.monotonic()

    def step(name: str) -> None:
        elapsed = time.monotonic() - started
        if elapsed > WS_BUDGET:
            raise TimeoutError(f"the WebSocket fan-out ran over its {WS_BUDGET:g} s budget before '{name}'")
        print(f"[ws {elapsed:6.1f} s] {name}", flush=True)

    if ws_fanout.BASE_SRC:
        results = ws_fanout.run_ab(workdir / "ws", RESULTS.parent, step, ws_fanout.BASE_SRC)
    else:
        results = ws_fanout.run(workdir / "ws", RESULTS.parent, step)
    step("done")
    return results


def main_ws() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="chat-media-bench-ws-"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        ws = run_ws(workdir)
    except Exception as exc:
        print(f"bench ws failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows, notes = ws_rows(ws)
    print_table(rows, notes)
    written = write_json({"ws_fanout": ws}, WS_RESULTS)
    print(f"\nJSON: {written}; the services' logs: {RESULTS.parent}/ws-server-*.log")
    return 1 if _ws_failed(ws) else 0


def _main_only(mode: str, rows: Callable[[dict[str, Any]], tuple[list[Row], list[str]]]) -> int:
    """`python -m bench upload|download`: that part alone; JSON in bench/results/<mode>.json."""
    workdir = Path(tempfile.mkdtemp(prefix=f"chat-media-bench-{mode}-"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    service_log = RESULTS.parent / f"server-{mode}.log"
    service_log.unlink(missing_ok=True)
    try:
        results = run(workdir, service_log, only=mode)
    except Exception as exc:
        print(f"bench {mode} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(*rows(results))
    written = write_json(results, RESULTS.parent / f"{mode}.json")
    print(f"\nJSON: {written}; the service's log: {service_log}")
    return 0


def main() -> int:
    modes = {
        "ws": main_ws,
        "upload": lambda: _main_only("upload", upload_rows),
        "download": lambda: _main_only("download", download_rows),
    }
    if len(sys.argv) == 2 and sys.argv[1] in modes:
        return modes[sys.argv[1]]()
    if sys.argv[1:]:
        print("usage: python -m bench [upload | download | ws]", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="chat-media-bench-"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    service_log = RESULTS.parent / "server.log"
    service_log.unlink(missing_ok=True)
    try:
        results = run(workdir, service_log)
    except Exception as exc:
        if service_log.is_file():
            print(f"--- the service's log (tail) ---\n{service_log.read_text()[-3000:]}", file=sys.stderr)
        print(f"bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
        return 1
    try:
        results["ws_fanout"] = run_ws(workdir)
    except Exception as exc:
        print(f"bench ws failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        results["ws_fanout"] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows, notes = build_rows(results)
    print_table(rows, notes)
    print(f"\nJSON: {write_json(results)}; the service's log: {service_log}")
    return 1 if _ws_failed(results["ws_fanout"]) else 0


def _ws_failed(ws: object) -> bool:
    """The fan-out did not run, or one of the service's scenarios broke (a skip is no failure)."""
    if not isinstance(ws, dict) or "error" in ws:
        return True
    return any("error" in ws.get(k, {}) for k in ("one", "two"))


if __name__ == "__main__":
    sys.exit(main())
