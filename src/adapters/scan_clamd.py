"""The malware scanner as ClamAV's daemon: clamd over its socket (a unix socket or TCP), each file
streamed with INSTREAM, never held whole, and every wait bounded."""

from __future__ import annotations

import struct
from pathlib import Path

import anyio
from anyio.abc import ByteStream

from application.ports.files import MediaSource
from application.ports.scanner import Verdict
from domain.errors import ScannerUnavailable

CHUNK = 256 * 1024  # bytes per INSTREAM chunk (clamd takes any size up to its StreamMaxLength)
REPLY_LIMIT = 4096  # clamd's replies are one short line
_FAILURES = (OSError, TimeoutError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)


class ClamdScanner:
    """A clamd at `socket_path` (LocalSocket) or `host`:`port` (TCPSocket). `timeout` bounds each
    step: connecting, each chunk sent, and the verdict once the last byte is sent (the scan itself
    runs then, so it must allow for the largest file)."""

    def __init__(
        self,
        *,
        socket_path: Path | None = None,
        host: str | None = None,
        port: int = 3310,
        timeout: float = 30.0,
    ) -> None:
        if (socket_path is None) == (host is None):
            raise ValueError("ClamdScanner needs a socket path or a host, not both")
        self._socket_path = socket_path
        self._host = host
        self._port = port
        self._timeout = timeout
        self.address = str(socket_path) if socket_path is not None else f"{host}:{port}"

    async def scan(self, source: MediaSource) -> Verdict:
        reply = ""
        try:
            async with await self._connect() as stream:
                try:
                    await self._send(stream, b"zINSTREAM\0")
                    async for chunk in source.read(0, source.size, CHUNK):
                        await self._send(stream, struct.pack(">I", len(chunk)) + chunk)
                    await self._send(stream, struct.pack(">I", 0))
                except (anyio.BrokenResourceError, ConnectionError):
                    pass  # clamd stops reading past its StreamMaxLength, says why and hangs up
                reply = await self._reply(stream)
        except _FAILURES as exc:
            raise ScannerUnavailable(
                f"The malware scanner (clamd at {self.address}) did not answer: {_why(exc)}."
            ) from exc
        return _verdict(reply, source.size, self.address)

    async def ping(self) -> bool:
        """Whether clamd answers PONG within the timeout."""
        try:
            async with await self._connect() as stream:
                await self._send(stream, b"zPING\0")
                return await self._reply(stream) == "PONG"
        except _FAILURES:
            return False

    async def _connect(self) -> ByteStream:
        with anyio.fail_after(self._timeout):
            if self._socket_path is not None:
                return await anyio.connect_unix(self._socket_path)
            assert self._host is not None
            return await anyio.connect_tcp(self._host, self._port)

    async def _send(self, stream: ByteStream, data: bytes) -> None:
        with anyio.fail_after(self._timeout):
            await stream.send(data)

    async def _reply(self, stream: ByteStream) -> str:
        """The reply up to its NUL (the z-prefixed commands' terminator) or to clamd's hang-up."""
        reply = bytearray()
        with anyio.fail_after(self._timeout):
            while b"\0" not in reply and len(reply) < REPLY_LIMIT:
                try:
                    reply += await stream.receive(REPLY_LIMIT)
                except anyio.EndOfStream:
                    break
        return reply.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _verdict(reply: str, size: int, address: str) -> Verdict:
    """`stream: OK`, `stream: <signature> FOUND`, or an error said some way or another."""
    if reply == "stream: OK":
        return Verdict()
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        return Verdict(signature=reply.removeprefix("stream: ").removesuffix(" FOUND"))
    if "size limit exceeded" in reply:
        raise ScannerUnavailable(
            f"The malware scanner (clamd at {address}) refused a file of {size} bytes: its "
            "StreamMaxLength is lower; raise it above MAX_UPLOAD_SIZE."
        )
    raise ScannerUnavailable(
        f"The malware scanner (clamd at {address}) answered an error: {reply or 'nothing'}."
    )


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__
