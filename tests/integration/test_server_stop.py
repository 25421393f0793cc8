"""Stopping the real service (granian, two workers) always finishes, whatever the signal path:
SIGTERM to the main process, to its whole group (systemd's KillMode=control-group, a shell's
Ctrl-C), twice in quick succession, or to one worker; each under light HTTP and WebSocket traffic,
each exit within SHUTDOWN_TIMEOUT. And a worker never outlives a main process killed with -9.
Every process started here is killed with its group however the test ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from httpx_ws import WebSocketNetworkError

from adapters.tokens import mint_token
from tests.integration.http_fixtures import SECRET
from tests.integration.server_process import MEDIA_URL_SECRET, REPO, free_port
from tests.integration.ws_client import listen

pytestmark = pytest.mark.server

ROUNDS = int(os.environ.get("STOP_ROUNDS", "3"))  # per way; the bound of each loop below
DEADLINE = 8.0  # SHUTDOWN_TIMEOUT given to the service
START_TIMEOUT = 30.0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(FileNotFoundError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


@contextmanager
def service(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, list[int]]]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'service.db'}",
        "UPLOAD_DIR": str(workdir / "uploads"),
        "JWT_SECRET": SECRET,
        "MEDIA_URL_SECRET": MEDIA_URL_SECRET,
        "SHUTDOWN_TIMEOUT": str(DEADLINE),
        "SWEEP_INTERVAL": "0",
    }
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert process.poll() is None, (workdir / "server.log").read_text()[-2000:]
            with suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    workers = _children(process.pid)
                    started = (workdir / "server.log").read_text()
                    # Both serving: a signal to a worker still starting is another test's matter.
                    if len(workers) == 2 and "Started worker-1" in started and "Started worker-2" in started:
                        break
            time.sleep(0.1)
        assert len(workers) == 2, f"two workers expected: {workers}"
        yield process, port, workers
    finally:
        for pid in [process.pid, *workers]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        log.close()


def _light_traffic(port: int, stop: threading.Event) -> None:
    with httpx.Client(timeout=2) as client:
        while not stop.is_set():
            with suppress(httpx.HTTPError):
                client.get(f"http://127.0.0.1:{port}/health")
            time.sleep(0.02)


def _exited_within(process: subprocess.Popen[bytes], seconds: float) -> float | None:
    started = time.monotonic()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic() - started


@pytest.mark.parametrize("way", ["main", "group", "main-twice", "group-twice"])
def test_stopping_always_finishes_with_1001_to_the_sockets(tmp_path: Path, way: str) -> None:
    for round_ in range(ROUNDS):
        with service(tmp_path / f"{way}-{round_}") as (process, port, workers):
            stop = threading.Event()
            traffic = threading.Thread(target=_light_traffic, args=(port, stop), daemon=True)
            traffic.start()
            try:
                with listen(f"http://127.0.0.1:{port}", mint_token(SECRET, "bob")) as bob:
                    assert bob.next()["type"] == "ready"
                    send = os.killpg if way.startswith("group") else os.kill
                    send(process.pid, signal.SIGTERM)
                    if way.endswith("twice"):
                        time.sleep(0.05)
                        send(process.pid, signal.SIGTERM)
                    took = _exited_within(process, DEADLINE + 5)
                    assert took is not None, f"round {round_}: still running {DEADLINE + 5} s after SIGTERM"
                    try:
                        code: int | None = bob.close_code(timeout=5)[0]
                    except WebSocketNetworkError:
                        code = None  # dropped without a close frame
            finally:
                stop.set()
                traffic.join(timeout=5)
            # Signalled first, the main process tells its workers to close their sockets; to the
            # group, a worker may hear its own SIGTERM first and go with granian's close.
            if not way.startswith("group"):
                assert code == 1001, f"round {round_}: closed with {code}"
            assert not any(_alive(pid) for pid in workers), f"round {round_}: a worker outlived the stop"


def test_a_worker_told_to_stop_stops_and_the_service_with_it(tmp_path: Path) -> None:
    # granian does not respawn a worker that exits (respawn_failed_workers is off): the main
    # process stops the service, so that a supervisor restarts it whole.
    for round_ in range(ROUNDS):
        with service(tmp_path / f"worker-{round_}") as (process, _, workers):
            os.kill(workers[0], signal.SIGTERM)
            deadline = time.monotonic() + DEADLINE
            while _alive(workers[0]) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not _alive(workers[0]), f"round {round_}: the worker did not stop"
            with suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            assert _exited_within(process, DEADLINE + 5) is not None, f"round {round_}: hung"
            assert not any(_alive(pid) for pid in workers), f"round {round_}: a worker outlived the stop"


def test_workers_go_when_the_main_process_is_killed(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        with service(tmp_path / f"kill-{round_}") as (process, _, workers):
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            deadline = time.monotonic() + 5
            while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            left = [pid for pid in workers if _alive(pid)]
            assert left == [], f"round {round_}: workers {left} outlived their parent"
