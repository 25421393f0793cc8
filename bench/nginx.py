"""nginx on loopback, from a temp main config around an http-level body: as the download peer (the
same stored file, served with sendfile from a document root), or in front of the service with the
repository's template (deploy/nginx/chat-media.conf.template), which the tests start the same way."""

from __future__ import annotations

import os
import re
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
TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "chat-media.conf.template"

# What a packaged nginx.conf holds around conf.d/*.conf, with every path in the work directory.
MAIN = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    keepalive_timeout 30;
    default_type application/octet-stream;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
{module_temp_paths}    include {body};
}}
"""

STATIC = """\
server {{
    listen 127.0.0.1:{port};
    sendfile on;
    tcp_nopush on;
    root {root};
    location / {{ }}
}}
"""

_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path

    def access_log(self) -> str:
        log = self.workdir / "access.log"
        return log.read_text(errors="replace") if log.is_file() else ""

    def errors(self) -> str:
        log = self.workdir / "nginx-error.log"
        return log.read_text(errors="replace") if log.is_file() else ""

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


def render_template(values: dict[str, str], template: Path = TEMPLATE) -> str:
    """The template with its `${NAME}` placeholders filled in, as envsubst would; nginx's own
    `$variables` stay. Every placeholder must be given."""
    text = template.read_text()
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)} in {template}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def start_static(binary: str, root: Path, workdir: Path) -> Nginx:
    """nginx serving `root` on a free loopback port, the download peer."""
    port = free_port()
    return _start(binary, workdir, STATIC.format(port=port, root=root), port, "/")


def start_front(binary: str, workdir: Path, *, upstream: int, upload_dir: Path, prefix: str) -> Nginx:
    """nginx with the repository's template on a free loopback port, in front of the service at
    127.0.0.1:`upstream` (which runs with ACCEL_REDIRECT_PREFIX=`prefix` over `upload_dir`)."""
    port = free_port()
    body = render_template(
        {
            "CHAT_MEDIA_LISTEN": f"127.0.0.1:{port}",
            "CHAT_MEDIA_UPSTREAM": f"127.0.0.1:{upstream}",
            "UPLOAD_DIR": str(upload_dir.resolve()),  # absolute, as the service's store resolves it
            "ACCEL_REDIRECT_PREFIX": prefix,
            "CHAT_MEDIA_ACCESS_LOG": str(workdir / "access.log"),
        }
    )
    return _start(binary, workdir, body, port, "/health")


def _start(binary: str, workdir: Path, body: str, port: int, probe: str) -> Nginx:
    """nginx in the foreground with `body` in its http block; returns once `probe` answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    built = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10, check=False).stderr
    module_temp_paths = "".join(
        f"    {m}_temp_path {workdir}/{m};\n"
        for m in ("fastcgi", "uwsgi", "scgi")
        if f"--without-http_{m}_module" not in built
    )
    (workdir / "http.conf").write_text(body)
    config = workdir / "nginx.conf"
    config.write_text(
        MAIN.format(
            user="user root;\n" if os.geteuid() == 0 else "",  # workers read the 0700 temp dirs
            dir=workdir,
            body=workdir / "http.conf",
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
    nginx = Nginx(process=process, port=port, workdir=workdir)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {log.read_text()[-2000:]}")
            try:
                httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1.0)
                return nginx
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer in {START_TIMEOUT:g} s")
    except BaseException:
        nginx.stop()
        raise
