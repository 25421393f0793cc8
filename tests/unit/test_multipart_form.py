"""The streaming form reader over a fake ASGI channel: parts in order, bodies in pieces, and every
way a body can be broken, cut or stalled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from domain.errors import MalformedUpload, UploadAborted
from entrypoints.http.body_deadline import BodyLimits, DeadlineReceive
from entrypoints.http.multipart_form import MAX_FIELD_BYTES, FieldPart, FilePart, StreamingForm

BOUNDARY = "----b"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def channel(
    payload: bytes, piece: int, *, disconnect_after: int | None = None
) -> Callable[[], Awaitable[dict[str, object]]]:
    pieces = [payload[i : i + piece] for i in range(0, len(payload), piece)]
    sent = 0

    async def receive() -> dict[str, object]:
        nonlocal sent
        if disconnect_after is not None and sent >= disconnect_after:
            return {"type": "http.disconnect"}
        chunk = pieces[sent]
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": sent < len(pieces)}

    return receive


async def collect(form: StreamingForm) -> list[tuple[str, str, bytes]]:
    seen = []
    async for part in form.parts():
        if isinstance(part, FilePart):
            data = b"".join([chunk async for chunk in part.chunks])
            seen.append(("file", part.original_name, data))
        else:
            assert isinstance(part, FieldPart)
            seen.append(("field", part.name, part.value.encode()))
    return seen


@pytest.mark.parametrize("piece", [1, 7, 64, 4096, 1 << 20])
async def test_parts_come_in_order_whatever_the_chunking(piece: int) -> None:
    payload = body(("file", "a.png", b"\x89PNG" + bytes(range(256)) * 40), ("message_id", None, b"abc"),
                   ("file", "b.txt", b"hello\r\n--not-a-boundary"))  # fmt: skip
    form = StreamingForm(channel(payload, piece), CONTENT_TYPE)
    assert await collect(form) == [
        ("file", "a.png", b"\x89PNG" + bytes(range(256)) * 40),
        ("field", "message_id", b"abc"),
        ("file", "b.txt", b"hello\r\n--not-a-boundary"),
    ]


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "multipart/form-data", "text/plain; boundary=x"]
)
def test_only_multipart_with_a_boundary_is_read(content_type: str | None) -> None:
    with pytest.raises(MalformedUpload):
        StreamingForm(channel(b"", 1), content_type)


@pytest.mark.parametrize(
    "payload",
    [
        b"garbage without boundary",
        body(("file", "a.png", b"x"))[:-10],  # cut before the closing boundary
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n'.encode(),  # headers never end
        body(("upload", "a.png", b"x")),  # a file in a part not named 'file'
        body(("message_id", None, b"x" * (MAX_FIELD_BYTES + 1))),
        body(("message_id", None, b"\xff\xfe")),
        body(*[("f", None, b"x")] * 40),  # too many parts
    ],
)
async def test_broken_bodies_are_malformed(payload: bytes) -> None:
    form = StreamingForm(channel(payload, 16), CONTENT_TYPE)
    with pytest.raises(MalformedUpload):
        await collect(form)


async def test_a_disconnect_is_an_aborted_upload() -> None:
    payload = body(("file", "a.bin", b"x" * 10_000))
    form = StreamingForm(channel(payload, 1000, disconnect_after=3), CONTENT_TYPE)
    with pytest.raises(UploadAborted, match="went away"):
        await collect(form)


async def test_a_stalled_body_is_cut_off() -> None:
    payload = body(("file", "a.bin", b"x" * 100))
    feed = channel(payload, 10)
    calls = 0

    async def stalling() -> dict[str, object]:
        nonlocal calls
        calls += 1
        if calls > 2:
            await anyio.sleep(60)
        return await feed()

    form = StreamingForm(DeadlineReceive(stalling, BodyLimits(idle_timeout=0.2)), CONTENT_TYPE)
    with anyio.fail_after(5), pytest.raises(UploadAborted, match="stalled"):
        await collect(form)
