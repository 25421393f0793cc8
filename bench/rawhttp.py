"""A minimal HTTP/1.1 client on raw sockets, so the client costs next to nothing: bodies go out with
`sendfile` (no copy through Python) and come back through `recv_into` one reused buffer."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT = 60.0  # seconds, for each socket operation
_BUF = 1 << 20


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes  # kept only when asked for; otherwise empty
    body_bytes: int
    seconds: float
    client_cpu: float = 0.0  # CPU seconds this thread spent (user + system) on the exchange
    extra: dict[str, float] = field(default_factory=dict)


def exchange(
    port: int,
    head: bytes,
    *,
    body: tuple[bytes, Path | None, bytes] | None = None,
    keep_body: bool = True,
    timeout: float = TIMEOUT,
) -> Answer:
    """Send `head` (request line and headers) and `body` (prefix, a file sent with sendfile,
    suffix), then read the whole answer. The connection is closed afterwards."""
    started, cpu0 = time.perf_counter(), time.thread_time()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(head + (body[0] if body else b""))
            if body is not None:
                if body[1] is not None:
                    with body[1].open("rb") as source:
                        sock.sendfile(source)
                sock.sendall(body[2])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (an error): read what it said
        status, headers, kept, count = _read_answer(sock, keep_body)
    return Answer(status, headers, kept, count, time.perf_counter() - started, time.thread_time() - cpu0)


def request_head(method: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_answer(sock: socket.socket, keep_body: bool) -> tuple[int, dict[str, str], bytes, int]:
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the connection closed before the answer's headers ({raw[:200]!r})")
        raw += chunk
        if len(raw) > 65536:
            raise ConnectionError("the answer's headers are over 64 KiB")
    header_block, rest = raw.split(b"\r\n\r\n", 1)
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ConnectionError("a chunked answer: this client reads Content-Length bodies only")
    length = int(headers.get("content-length", "-1"))
    kept = bytearray(rest) if keep_body else bytearray()
    count = len(rest)
    buffer = bytearray(_BUF)
    view = memoryview(buffer)
    while length < 0 or count < length:
        n = sock.recv_into(view, _BUF if length < 0 else min(_BUF, length - count))
        if n == 0:
            if length < 0:
                break
            raise ConnectionError(f"the body ended after {count} of {length} bytes")
        count += n
        if keep_body:
            kept += view[:n]
    return status, headers, bytes(kept), count


class DiscardSink:
    """A loopback HTTP endpoint that reads request bodies as fast as it can and answers 201: the
    upload client's ceiling, with no server work behind it."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(1.0)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        buffer = memoryview(bytearray(_BUF))
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(TIMEOUT)
                raw = b""
                while b"\r\n\r\n" not in raw and len(raw) < 65536:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    raw += chunk
                head, _, rest = raw.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(v)
                        for k, _, v in (x.partition(b":") for x in head.split(b"\r\n"))
                        if k.strip().lower() == b"content-length"
                    ),
                    0,
                )
                got = len(rest)
                while got < length:
                    n = conn.recv_into(buffer, min(_BUF, length - got))
                    if n == 0:
                        break
                    got += n
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
