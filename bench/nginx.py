"""nginx as the download peer: the same stored file, served with sendfile from a temp config."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.service import free_port

INSTALL_HINT = "apt-get install -y nginx-light   (Debian; `nginx` works too)"
START_TIMEOUT = 15.0

CONFIG = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    default_type application/octet-stream;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
{module_temp_paths}    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    port: int

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(timeout=10)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
    )


def make_root(directory: Path, files: list[Path], blobs: dict[str, bytes]) -> Path:
    """nginx's document root: `files` hard-linked in (copied across file systems), `blobs` written."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in files:
        try:
            os.link(source, directory / source.name)
        except OSError:
            shutil.copyfile(source, directory / source.name)
    for name, data in blobs.items():
        (directory / name).write_bytes(data)
    return directory


def start_nginx(binary: str, root: Path, workdir: Path) -> Nginx:
    """nginx in the foreground serving `root` on a free loopback port; stop() it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    built = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10, check=False).stderr
    module_temp_paths = "".join(
        f"    {m}_temp_path {workdir}/{m};\n"
        for m in ("fastcgi", "uwsgi", "scgi")
        if f"--without-http_{m}_module" not in built
    )
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(
        CONFIG.format(
            user="user root;\n" if os.geteuid() == 0 else "",  # workers read the 0700 temp dirs
            dir=workdir,
            port=port,
            root=root,
            module_temp_paths=module_temp_paths,
        )
    )
    log = workdir / "nginx-stderr.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-p", f"{workdir}/", "-e", f"{workdir}/nginx-error.log", "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    nginx = Nginx(process=process, port=port)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {log.read_text()[-2000:]}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0)
                return nginx
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer in {START_TIMEOUT:g} s")
    except BaseException:
        nginx.stop()
        raise
