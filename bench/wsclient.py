"""Many WebSocket clients in one asyncio loop, cheap enough for 1,000 sockets on a 2-core machine:
one `asyncio.Protocol` per socket with a minimal RFC 6455 client (wsproto cost ~18 us a frame
here, a third of the client's time), no task per socket. Each frame is stamped with
`time.perf_counter()` as its bytes arrive, before anything is parsed, and only `type`, `cursor`
and `message.id` are decoded (msgspec)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

HOST = "127.0.0.1"
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's, for Sec-WebSocket-Accept


class _Id(msgspec.Struct):
    id: str


class _Frame(msgspec.Struct):
    type: str
    cursor: int | None = None
    message: _Id | None = None


_decode = msgspec.json.Decoder(_Frame).decode


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Raises this process's open-file limit towards `wanted` (up to the hard limit); the services
    started afterwards inherit it. Returns the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass
class Arrivals:
    """Who received which `message.created`, and when (perf_counter seconds); an event per message
    id is set once every socket has it."""

    sockets: int
    by_message: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    _complete: dict[str, asyncio.Event] = field(default_factory=dict)

    def arrive(self, index: int, message_id: str, at: float) -> None:
        got = self.by_message.setdefault(message_id, [])
        got.append((index, at))
        if len(got) >= self.sockets:
            self.complete(message_id).set()

    def complete(self, message_id: str) -> asyncio.Event:
        return self._complete.setdefault(message_id, asyncio.Event())


class Socket(asyncio.Protocol):
    """One client socket of `GET /api/v1/ws`. `ready` resolves with the `ready` frame's cursor,
    `closed` with the close code and reason (0 where the TCP connection just ended).

    RFC 6455 by hand, the client's side only: the upgrade request, then the server's frames
    (unmasked; text, continuation, close, ping, pong), and masked close and pong frames back."""

    def __init__(self, index: int, port: int, path: str, arrivals: Arrivals) -> None:
        loop = asyncio.get_running_loop()
        self.index = index
        self.port = port
        self.path = path
        self.arrivals = arrivals
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[int] = loop.create_future()
        self.closed: asyncio.Future[tuple[int, str]] = loop.create_future()
        self.seen: set[str] = set()
        self.duplicates = 0
        self.pings = 0
        self.other_frames: list[str] = []
        self.errors: list[str] = []
        self.we_closed = False
        self.frame_chars = 0  # the length of the last message.created frame, in bytes
        self._key = base64.b64encode(os.urandom(16)).decode()
        self._upgraded = False
        self._close_sent = False
        self._buf = bytearray()
        self._parts: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        at = time.perf_counter()
        buf = self._buf
        buf += data
        if not self._upgraded and not self._upgrade(buf):
            return
        pos, size = 0, len(buf)
        while size - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            if second & 0x80:
                self._fail("the server masked a frame")
                return
            length, head = second & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            payload = bytes(buf[pos + head : end])
            pos = end
            self._opcode(first & 0x0F, bool(first & 0x80), payload, at)
            if self.transport is None or self.transport.is_closing():
                break
        del buf[:pos]

    def _upgrade(self, buf: bytearray) -> bool:
        """Reads the answer to the upgrade request off `buf`; True once the socket is open."""
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > 16384:
                self._fail("no end to the upgrade answer's head")
            return False
        head = bytes(buf[:end]).decode("latin-1")
        del buf[: end + 4]
        lines = head.split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        accept = base64.b64encode(
            hashlib.sha1((self._key + _GUID).encode(), usedforsecurity=False).digest()
        ).decode()
        if lines[0].split(" ")[1:2] != ["101"] or headers.get("sec-websocket-accept") != accept:
            self._fail(f"handshake refused: {lines[0]}")
            return False
        self._upgraded = True
        return True

    def _opcode(self, opcode: int, fin: bool, payload: bytes, at: float) -> None:
        if opcode in (0x0, 0x1):  # continuation, text
            self._parts.append(payload)
            if fin:
                text = payload if len(self._parts) == 1 else b"".join(self._parts)
                self._parts.clear()
                self._frame(text, at)
        elif opcode == 0x8:  # close
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self._close_sent:
                self._send(0x8, payload[:2])
            reason = payload[2:].decode(errors="replace")
            if not self.ready.done():
                self.ready.set_exception(ConnectionError(f"closed with {code} before ready: {reason}"))
            self._resolve_closed(code, reason)
            if self.transport is not None:
                self.transport.close()
        elif opcode == 0x9:  # ping
            self._send(0xA, payload)
        elif opcode != 0xA:
            self.other_frames.append(f"opcode {opcode}")

    def _send(self, opcode: int, payload: bytes) -> None:
        """A masked frame of at most 125 bytes (close, pong)."""
        if opcode == 0x8:
            self._close_sent = True
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload[:125]))
        self._write(bytes([0x80 | opcode, 0x80 | len(masked)]) + mask + masked)

    def _frame(self, text: bytes, at: float) -> None:
        try:
            frame = _decode(text)
        except msgspec.DecodeError:
            self.other_frames.append(text[:120].decode(errors="replace"))
            return
        if frame.type == "message.created" and frame.message is not None:
            self.frame_chars = len(text)
            message_id = frame.message.id
            if message_id in self.seen:
                self.duplicates += 1
                return
            self.seen.add(message_id)
            self.arrivals.arrive(self.index, message_id, at)
        elif frame.type == "ping":
            self.pings += 1
        elif frame.type == "ready":
            if not self.ready.done():
                self.ready.set_result(frame.cursor or 0)
        else:
            self.other_frames.append(frame.type)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, why: str) -> None:
        self.errors.append(why)
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def _resolve_closed(self, code: int, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result((code, reason))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"connection lost before ready: {exc}"))
        self._resolve_closed(0, str(exc) if exc else "")

    @property
    def closed_by_server(self) -> tuple[int, str] | None:
        """The server's close, where it closed (or dropped) the socket without being asked."""
        if self.closed.done() and not self.we_closed:
            return self.closed.result()
        return None

    async def close(self, timeout: float) -> None:
        """Closes with 1000 and waits (bounded) for the server's close frame."""
        self.we_closed = True
        if self._upgraded and not self._close_sent:
            self._send(0x8, (1000).to_bytes(2, "big") + b"bench done")
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            pass
        finally:
            if self.transport is not None:
                self.transport.close()


async def open_sockets(
    port_of: Callable[[int], int],
    tokens: list[str],
    arrivals: Arrivals,
    *,
    concurrency: int,
    timeout: float,
) -> tuple[list[Socket], list[float]]:
    """Opens one socket per token (socket i on port `port_of(i)`) and waits for every `ready`
    frame, `concurrency` handshakes at a time. Returns the sockets and each one's seconds from
    connect to `ready`. Raises if any socket fails or `timeout` passes."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    sockets: list[Socket | None] = [None] * len(tokens)
    waits: list[float] = [0.0] * len(tokens)

    async def one(i: int) -> None:
        async with gate:
            port = port_of(i)
            started = time.perf_counter()
            socket = Socket(i, port, f"/api/v1/ws?token={tokens[i]}", arrivals)
            sockets[i] = socket
            await loop.create_connection(lambda: socket, HOST, port)
            await socket.ready
            waits[i] = time.perf_counter() - started

    try:
        async with asyncio.timeout(timeout), asyncio.TaskGroup() as group:
            for i in range(len(tokens)):
                group.create_task(one(i))
    except BaseException as exc:
        for socket in sockets:
            if socket is not None and socket.transport is not None:
                socket.transport.close()
        if isinstance(exc, BaseExceptionGroup):
            raise exc.exceptions[0] from None
        raise
    return [s for s in sockets if s is not None], waits


async def close_sockets(sockets: list[Socket], timeout: float) -> None:
    await asyncio.gather(*(s.close(timeout) for s in sockets), return_exceptions=True)
