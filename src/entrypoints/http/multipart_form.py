"""A multipart/form-data body read as it arrives, part by part, with nothing held whole.

Litestar's own form parsing (2.14 on) spools every file into an `UploadFile` (a SpooledTemporaryFile:
1 MB in memory, then a file in /tmp) and calls the handler only after the whole body arrived, so
every byte is written twice and nothing can be refused early. This reads the ASGI `receive`
channel directly through the same push parser Litestar uses (`multipart.PushMultipartParser`), so
the upload use case sees each file's bytes as they come and can refuse a spoofed type or an
oversized file at once.
`upload_form` drives an upload session with the parts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from application.upload_media import Upload, UploadMedia
from domain.attachment import Attachment
from domain.errors import MalformedUpload, UploadAborted
from entrypoints.http.schemas import message_id_of

MAX_FIELD_BYTES = 1024
MAX_PARTS = 16  # ten files, their message_id, and a little room
MAX_PART_HEADER_BYTES = 4096
_END = object()  # the end of a part's body


@dataclass(frozen=True, slots=True, kw_only=True)
class FilePart:
    original_name: str
    chunks: AsyncIterator[bytes]  # must be read to its end before the next part is asked for


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldPart:
    name: str
    value: str


async def upload_form(
    uploads: UploadMedia, uploader_id: str, parts: AsyncIterator[FilePart | FieldPart]
) -> Sequence[Attachment]:
    """The form's files as one upload: its session begins at the `message_id` field or at the
    first file, whichever comes first (a `message_id` after the files still names their message).
    Fields of other names are ignored."""
    upload: Upload | None = None
    try:
        async for part in parts:
            if isinstance(part, FieldPart):
                if part.name != "message_id":
                    continue
                if upload is None:
                    upload = await uploads.begin(uploader_id, message_id_of(part.value))
                else:
                    await upload.to_message(message_id_of(part.value))
                continue
            if upload is None:
                upload = await uploads.begin(uploader_id)
            await upload.receive(part.original_name, part.chunks)
        if upload is None:
            raise MalformedUpload("The upload holds no 'file' part.")
        return await upload.commit()
    finally:
        if upload is not None:
            await upload.abort()


class StreamingForm:
    """Iterate `parts()`; a FilePart's `chunks` must be read to its end before the next part."""

    def __init__(self, receive: Any, content_type: str | None) -> None:
        """`receive` is the request's, under its deadlines (`body_deadline.DeadlineReceive`)."""
        mime, options = parse_options_header(content_type or "")
        boundary = options.get("boundary")
        if mime != "multipart/form-data" or not boundary:
            raise MalformedUpload("An upload must be sent as multipart/form-data with a boundary.")
        self._receive = receive
        self._parser = PushMultipartParser(
            boundary,
            max_header_size=MAX_PART_HEADER_BYTES,
            max_header_count=8,
            max_segment_count=MAX_PARTS,
        )
        self._events: deque[object] = deque()
        self._body_done = False

    async def _next(self) -> object:
        """The next parser event: a segment, a bytes chunk of its body, `_END`, or None at the end."""
        while not self._events:
            if self._body_done:
                return None
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise UploadAborted("The client went away before the upload finished.")
            chunk = message.get("body", b"")
            self._body_done = not message.get("more_body", False)
            try:
                if chunk:
                    self._events.extend(_END if e is None else e for e in self._parser.parse(chunk))
                if self._body_done:
                    self._parser.close()
            except MultipartError as exc:  # malformed, or past a limit (parts, header size)
                raise MalformedUpload(f"The multipart body is malformed: {exc}.") from None
        return self._events.popleft()

    async def parts(self) -> AsyncIterator[FilePart | FieldPart]:
        while (event := await self._next()) is not None:
            if not isinstance(event, MultipartSegment):
                raise MalformedUpload("The multipart body is malformed.")
            if event.filename is not None:
                if event.name != "file":
                    raise MalformedUpload(f"Files go in parts named 'file', not '{event.name}'.")
                yield FilePart(original_name=event.filename, chunks=self._body())
            else:
                yield FieldPart(name=event.name or "", value=await self._field_value(event.name or ""))

    async def _body(self) -> AsyncIterator[bytes]:
        while (event := await self._next()) is not _END:
            if not isinstance(event, bytes | bytearray | memoryview):
                raise MalformedUpload("The multipart body is malformed.")
            yield bytes(event)

    async def _field_value(self, name: str) -> str:
        value = bytearray()
        async for chunk in self._body():
            value += chunk
            if len(value) > MAX_FIELD_BYTES:
                raise MalformedUpload(f"The form field '{name}' is longer than {MAX_FIELD_BYTES} bytes.")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedUpload(f"The form field '{name}' is not UTF-8 text.") from None
