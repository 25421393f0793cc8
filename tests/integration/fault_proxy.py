"""A TCP proxy on loopback that a test can break: in front of S3 or PostgreSQL, it makes them stop
answering without touching the real server (which other tests share).

Modes: `pass` forwards; `silent` keeps every connection open but forwards nothing more and accepts
new ones without answering (a server that hangs); `refuse` resets every connection and every new
one (a server that is down). `break_after(n, mode)` switches once `n` bytes went upstream.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

_BUFFER = 256 * 1024


class FaultProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._mode = "pass"
        self._held: set[socket.socket] = set()  # accepted while silent: never forwarded
        self._upstream_bytes = 0
        self._trigger: tuple[int, str, Callable[[], None] | None] | None = None
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def upstream_bytes(self) -> int:
        return self._upstream_bytes

    def set_mode(self, mode: str) -> None:
        assert mode in ("pass", "silent", "refuse")
        with self._lock:
            self._mode = mode
            self._trigger = None
            doomed, self._held = (self._held, set()) if mode != "silent" else (set(), self._held)
        for sock in doomed:  # forwarding connections are closed by their own thread, within 0.2 s
            _reset(sock)

    def break_after(self, upstream_bytes: int, mode: str, then: Callable[[], None] | None = None) -> None:
        """Switches to `mode` (and calls `then`) once `upstream_bytes` more bytes were forwarded."""
        with self._lock:
            self._trigger = (self._upstream_bytes + upstream_bytes, mode, then)

    def close(self) -> None:
        self._closed = True
        self.set_mode("refuse")
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._mode == "refuse":
                _reset(client)
                continue
            if self._mode == "silent":
                with self._lock:
                    self._held.add(client)  # open, never answered
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _reset(client)
                continue
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        reading = {client, upstream}  # the sides that have not closed their end yet
        broken = False
        try:
            while reading:
                if self._mode == "refuse" or self._closed:
                    broken = True
                    return
                if self._mode == "silent":  # neither side hears from the other any more
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(list(reading), [], [], 0.2)
                for source in readable:
                    data = source.recv(_BUFFER)
                    if not data:  # one side is done sending: pass the end on, keep the other way
                        reading.discard(source)
                        with contextlib.suppress(OSError):
                            peers[source].shutdown(socket.SHUT_WR)
                        continue
                    peers[source].sendall(data)
                    if source is client:
                        self._count(len(data))
        except OSError:
            broken = True
        finally:
            for sock in (client, upstream):
                if broken:
                    _reset(sock)  # a fault: the peers see a reset
                else:
                    sock.close()  # both sides ended: what is still buffered is delivered

    def _count(self, sent: int) -> None:
        fire: Callable[[], None] | None = None
        with self._lock:
            self._upstream_bytes += sent
            trigger = self._trigger
            if trigger is not None and self._upstream_bytes >= trigger[0]:
                self._trigger = None
                self._mode = trigger[1]
                fire = trigger[2]
        if fire is not None:
            fire()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def fault_proxy(host: str, port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
