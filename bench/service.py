"""The service as a subprocess (`chat-media serve`, granian) on a free loopback port, with its own
temp SQLite database and uploads directory, and the few API calls the benchmark sets up with."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0  # seconds: migrations, then granian's worker
API_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_UPLOAD_SIZE = 50 * (1 << 20)  # the seed's cap; the 50 MB file is exactly this size


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path
    env: dict[str, str]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def upload_dir(self) -> Path:
        return self.workdir / "uploads"

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(timeout=wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue

    def token(self, user: str) -> str:
        """A token minted by `chat-media token` for `user` (the last word that looks like a JWT)."""
        done = subprocess.run(
            [sys.executable, "-m", "entrypoints.cli", "token", user],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        jwts = [w for w in done.stdout.split() if w.count(".") == 2 and len(w) > 40]
        if done.returncode != 0 or not jwts:
            raise RuntimeError(f"`chat-media token` failed: {done.stderr[-1000:]}")
        return jwts[-1]

    def log_problems(self) -> list[str]:
        """The lines of the server's log that tell of an error (granian logs no access lines)."""
        if not self.log.is_file():
            return []
        pattern = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|Exception")
        return [line for line in self.log.read_text(errors="replace").splitlines() if pattern.search(line)]


def start_service(
    workdir: Path, extra_env: dict[str, str] | None = None, repo: Path = REPO, workers: int = 1
) -> Service:
    """`extra_env` overrides the defaults (say, a PostgreSQL DATABASE_URL, REDIS_URL, a shared
    JWT_SECRET for two instances). `repo`: another checkout's service (its own .venv), for an A/B.
    `workers`: granian's (more than one wants REDIS_URL, for the WebSocket events to reach all)."""
    port = free_port()
    (workdir / "uploads").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "UPLOAD_DIR": str(workdir / "uploads"),
        "JWT_SECRET": os.urandom(32).hex(),
        "MEDIA_URL_SECRET": os.urandom(32).hex(),
        "MAX_UPLOAD_SIZE": str(MAX_UPLOAD_SIZE),
        **(extra_env or {}),
    }
    log = workdir / "server.log"
    with log.open("wb") as out:
        python = sys.executable if repo == REPO else str(repo / ".venv" / "bin" / "python")
        process = subprocess.Popen(
            [python, "-m", "entrypoints.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
            + (["--workers", str(workers)] if workers != 1 else []),
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return wait_healthy(Service(process=process, port=port, workdir=workdir, env=env, log=log), "the service")


def wait_healthy(service: Service, what: str, timeout: float = START_TIMEOUT) -> Service:
    """Polls `/health` until 200 (or the process exits, or `timeout`); stops the process on failure."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(f"{what} exited at start:\n{service.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{service.base}/health", timeout=2.0).status_code == 200:
                    return service
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"no 200 from {what}'s /health in {timeout:g} s:\n{service.log.read_text()[-3000:]}"
        )
    except BaseException:
        service.stop()
        raise


class Api:
    """The JSON calls that set the stage: a conversation, messages, small uploads, deletes."""

    def __init__(self, service: Service, token: str) -> None:
        self.client = httpx.Client(
            base_url=service.base, headers={"Authorization": f"Bearer {token}"}, timeout=API_TIMEOUT
        )

    def _ok(self, response: httpx.Response) -> object:
        if response.status_code >= 300:
            raise RuntimeError(
                f"{response.request.method} {response.request.url.path}: "
                f"{response.status_code} {response.text[:500]}"
            )
        return response.json() if response.content else None

    def conversation(self) -> str:
        body = {"kind": "group", "title": "bench", "member_ids": ["bob"]}
        return str(self._ok(self.client.post("/api/v1/conversations", json=body))["id"])  # type: ignore[index]

    def message(self, conversation_id: str, content: str) -> str:
        path = f"/api/v1/conversations/{conversation_id}/messages"
        return str(self._ok(self.client.post(path, json={"content": content}))["id"])  # type: ignore[index]

    def upload_small(self, message_id: str, files: list[tuple[str, bytes]]) -> list[dict[str, object]]:
        parts = [("file", (name, data, "application/octet-stream")) for name, data in files]
        answer = self.client.post("/api/v1/media/upload", data={"message_id": message_id}, files=parts)
        return self._ok(answer)  # type: ignore[return-value]

    def delete_media(self, media_id: str) -> None:
        self._ok(self.client.delete(f"/api/v1/media/{media_id}"))

    def close(self) -> None:
        self.client.close()


def start_floor(module: str, workdir: Path, env: dict[str, str], what: str, *args: str) -> Service:
    """A floor app (`python -m <module> PORT *args`, from this checkout's bench package) on a free
    port, `env` added to the environment, its output in `workdir`/server.log."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "server.log"
    env = {**os.environ, **env}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module, str(port), *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return wait_healthy(Service(process=process, port=port, workdir=workdir, env=env, log=log), what, 30.0)


def start_pathsend_floor(workdir: Path, root: Path) -> Service:
    """bench/pathsend_floor.py under granian on a free port, serving the files of `root`."""
    return start_floor("bench.pathsend_floor", workdir, {"FLOOR_ROOT": str(root)}, "the pathsend floor")
