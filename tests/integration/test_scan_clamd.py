"""The clamd adapter against a real clamd and against sockets that misbehave: every failure is a
ScannerUnavailable that says why, within the timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from bench.clamd import Clamd, clamd_binary, prepare_clamd

from adapters.scan_clamd import ClamdScanner
from domain.errors import ScannerUnavailable
from tests.databases import unavailable
from tests.samples import EICAR, sample


class Bytes:
    """A MediaSource over bytes in memory."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        for at in range(start, end, chunk_size):
            yield self._data[at : min(at + chunk_size, end)]


async def test_clean_and_infected_answers_and_ping(clamd: Clamd) -> None:
    scanner = ClamdScanner(socket_path=clamd.socket_path, timeout=5)

    assert (await scanner.scan(Bytes(sample("png")))).clean
    # Across the adapter's chunk boundary too: clamd sees one stream.
    padded = b"\n" * (256 * 1024 - 10) + EICAR
    assert (await scanner.scan(Bytes(padded))).signature == "Test.EICAR.UNOFFICIAL"
    assert await scanner.ping()


@pytest.fixture
def small_clamd(tmp_path: Path) -> Iterator[Clamd]:
    """A second clamd whose StreamMaxLength (1 MiB) is below what is sent."""
    binary = clamd_binary()
    if binary is None:
        unavailable("clamd is not installed: the clamd adapter tests")
    daemon = prepare_clamd(binary, tmp_path / "small", stream_max="1M")
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


async def test_a_stream_past_clamds_limit_is_a_clear_error(small_clamd: Clamd) -> None:
    scanner = ClamdScanner(socket_path=small_clamd.socket_path, timeout=5)

    with pytest.raises(ScannerUnavailable, match="StreamMaxLength"):
        await scanner.scan(Bytes(b"x" * (3 << 20)))


async def test_no_clamd_on_the_socket_is_unavailable(tmp_path: Path) -> None:
    scanner = ClamdScanner(socket_path=tmp_path / "none.sock", timeout=5)

    with pytest.raises(ScannerUnavailable, match="did not answer"):
        await scanner.scan(Bytes(b"hello"))
    assert not await scanner.ping()


@pytest.fixture
def silent_socket(tmp_path: Path) -> Iterator[Path]:
    """A unix socket that accepts, reads everything and never answers: a clamd stuck."""
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.settimeout(0.1)
            while not stop.is_set():
                try:
                    if not connection.recv(65536):
                        break
                except TimeoutError:
                    continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join(5)
    server.close()


async def test_a_clamd_that_does_not_answer_in_time_is_unavailable(silent_socket: Path) -> None:
    scanner = ClamdScanner(socket_path=silent_socket, timeout=0.5)
    started = time.monotonic()

    with pytest.raises(ScannerUnavailable, match="no answer in time"):
        await scanner.scan(Bytes(b"hello"))
    assert time.monotonic() - started < 5
