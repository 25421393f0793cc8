"""The service as a real process (granian) on a free loopback port, for what only a real server
shows: disconnects, crashes, pathsend."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
# Given to every server a test starts, so that servers over one database verify each other's media
# URLs, and so that the CLI leaves no development key in the repository's data/.
MEDIA_URL_SECRET = "test-media-url-key-" + "u" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    upload_dir: Path
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL to the whole process group: a crash, not a shutdown."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(workdir: Path, secret: str, *, workers: int = 1, **env: str) -> Server:
    port = free_port()
    upload_dir = workdir / "uploads"
    log = workdir / f"server-{port}.log"
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'service.db'}",
        "UPLOAD_DIR": str(upload_dir),
        "JWT_SECRET": secret,
        "MEDIA_URL_SECRET": MEDIA_URL_SECRET,
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "entrypoints.cli", "serve", "--host", "127.0.0.1"),
                *("--port", str(port), "--workers", str(workers)),
            ],
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process=process, port=port, upload_dir=upload_dir, log=log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.base}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"the server did not answer /health in {START_TIMEOUT} s: {log.read_text()[-2000:]}")


@contextmanager
def running_server(workdir: Path, secret: str, *, workers: int = 1, **env: str) -> Iterator[Server]:
    server = start_server(workdir, secret, workers=workers, **env)
    try:
        yield server
    finally:
        server.stop()


def wait_until(condition: object, timeout: float = 10.0) -> bool:
    """Polls `condition()` every 50 ms for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]
