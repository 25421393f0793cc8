"""The ASGI side of a file's answer (`file_response.FileResponse`): its headers, then its bytes by
pathsend or streamed in chunks, and the open file closed whatever happens."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, cast

import anyio
from litestar.response.base import ASGIResponse

from application.ports.files import OpenFile
from domain.errors import StorageUnavailable
from entrypoints.http.ranges import ByteRange

if TYPE_CHECKING:
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures.cookie import Cookie
    from litestar.types import Message, Receive, Scope, Send


class ASGIServedFile(ASGIResponse):
    """The ASGI side: start, then pathsend (when the body is the whole file, whatever the status:
    browsers ask for a video as `bytes=0-`) or the slice in chunks, then close `closing`."""

    __slots__ = ("body_slice", "chunk_size", "closing", "file", "local_path", "whole")

    _should_set_content_length = False  # set by FileResponse for every status

    def __init__(
        self,
        *,
        file: OpenFile | None,
        local_path: str | None,
        closing: AsyncExitStack,
        status_code: int,
        headers: dict[str, str],
        cookies: Iterable[Cookie],
        background: BackgroundTask | BackgroundTasks | None,
        body_slice: ByteRange | None,
        whole: bool,
        chunk_size: int,
    ) -> None:
        super().__init__(status_code=status_code, headers=headers, cookies=cookies, background=background)
        self.file = file
        self.local_path = local_path
        self.closing = closing
        self.body_slice = body_slice  # None: no body (HEAD, 304, 416)
        self.whole = whole
        self.chunk_size = chunk_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.start_response(send=send)
            if self.body_slice is None or self.file is None:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif (
                self.whole
                and self.local_path is not None
                and "http.response.pathsend" in (scope.get("extensions") or {})
            ):
                await send(cast("Message", {"type": "http.response.pathsend", "path": self.local_path}))
            else:
                await self._stream(self.file, self.body_slice, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.closing.aclose()
        await self.after_response()

    async def _stream(self, file: OpenFile, part: ByteRange, receive: Receive, send: Send) -> None:
        sent = 0
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_cancel_on_disconnect, tasks.cancel_scope, receive)
                chunks = file.read(part.start, part.end, self.chunk_size)
                try:
                    async for chunk in chunks:
                        sent += len(chunk)
                        more = sent < part.length
                        await send({"type": "http.response.body", "body": chunk, "more_body": more})
                finally:
                    if isinstance(chunks, AsyncGenerator):  # stop its read now, not at collection
                        await chunks.aclose()
                if sent != part.length:  # the headers promised part.length bytes: cut the connection
                    raise StorageUnavailable("The file changed size while it was being sent.")
                if part.length == 0:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                tasks.cancel_scope.cancel()
        except BaseExceptionGroup as group:  # the task group wraps what the stream raised
            if len(group.exceptions) == 1:
                raise group.exceptions[0]  # noqa: B904 (the group is its context, its cause is kept)
            raise


async def _cancel_on_disconnect(scope: anyio.CancelScope, receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
