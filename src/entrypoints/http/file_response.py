"""Serving one stored file: Range, 304, HEAD, pathsend and the download headers, which Litestar's
`File` lacks.

The store's `open()` context must outlive the handler, so the response owns it. A handler checks
access (the use case's `check`), then lets `download_response` open the file and build the answer:

    @route("/{filename:str}", http_method=["GET", "HEAD"])
    async def serve(
        self, request: AuthRequest, filename: str, serve_media: ServeMediaHandler
    ) -> FileResponse:
        checked = await serve_media.check(request.user.id, filename)
        return await download_response(request, checked, serve_media.open)

`download_response` enters the open context (a NotFound raised there is an ordinary error answer)
and hands it to the response, which closes it once the answer is over: after the last body message,
after pathsend, when the client disconnects, or when sending fails. A response that is built but
never sent leaves the context to the garbage collector.

Every answer about a file is decided from its row (size, sha256, creation): the same ETag and
Last-Modified whoever sends the bytes. With `accel` (ACCEL_REDIRECT_PREFIX), a GET answered 200 or
206 carries no body but an `X-Accel-Redirect` for nginx, which sends the bytes
(entrypoints/http/accel.py); such an answer is given without opening the file at all.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from litestar.response.base import ASGIResponse, Response

from adapters.metrics import count_download
from application.ports.files import OpenFile
from application.serve_media import Checked, Download
from domain.policy import display_name, is_inline
from entrypoints.http.accel import AccelRedirect
from entrypoints.http.ranges import ByteRange, decide, http_date
from entrypoints.http.served_file import ASGIServedFile

if TYPE_CHECKING:
    from litestar.app import Litestar
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.connection import Request
    from litestar.datastructures.cookie import Cookie
    from litestar.enums import MediaType
    from litestar.types import TypeEncodersMap

# One thread hop and one ASGI send per chunk: 256 KiB chunks streamed a 50 MiB range ~20% slower.
CHUNK_SIZE = 1024 * 1024
MAX_AGE = 86400
SANDBOX_CSP = "sandbox; default-src 'none'; media-src 'self'; style-src 'unsafe-inline'"
_NOT_IN_FALLBACK = frozenset('"\\%')


def content_disposition(original_name: str, extension: str) -> str:
    """RFC 6266: `inline` only for what browsers render safely; the name as UTF-8 `filename*`
    with an ASCII `filename` fallback. Cleaned again here, whatever the row holds."""
    name = display_name(original_name, extension)
    fallback = "".join(
        "" if unicodedata.combining(ch) else ch if " " <= ch <= "~" and ch not in _NOT_IN_FALLBACK else "_"
        for ch in unicodedata.normalize("NFKD", name)
    )
    kind = "inline" if is_inline(extension) else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@dataclass(frozen=True, slots=True)
class Plan:
    """What to answer one request about a file: status, the headers that depend on the request, the
    bytes to send (None: no body of ours), and nginx's target when nginx sends them."""

    status: int
    headers: dict[str, str]
    body_slice: ByteRange | None
    whole: bool
    handed_over: str | None
    sends: int = 0  # bytes of the file the answer carries, ours or nginx's (0: HEAD, 304, 416)


class FileResponse(Response[None]):
    """A checked file as the answer to a GET or HEAD; `closing` is closed when the answer is over.
    A `Download` (the file open) can answer anything; a `Checked` alone (not opened, its size from
    the row) only what sends no byte of it (`plan(request).body_slice` None)."""

    def __init__(
        self,
        checked: Checked,
        *,
        closing: AsyncExitStack | None = None,
        max_age: int = MAX_AGE,
        chunk_size: int = CHUNK_SIZE,
        accel: AccelRedirect | None = None,
        local_path: str | None = None,
    ) -> None:
        """`local_path`: where the open file's bytes lie on this machine's disk, if they do (the
        store's delivery fact): then the server may send them itself (pathsend), or nginx."""
        super().__init__(None)
        file = checked.file if isinstance(checked, Download) else None
        size = file.size if file is not None else checked.size  # the bytes' own size once open
        if size is None:
            raise ValueError("a rendition's size is known once it is open: give its Download")
        self.file = file
        self.local_path = local_path if file is not None else None
        self.size = size
        self.closing = closing or AsyncExitStack()
        self.chunk_size = chunk_size
        # nginx can send only what lies on this machine's disk under the store's name.
        self.accel = accel if file is None or local_path is not None else None
        self.stored_name = checked.stored_name
        self.etag = f'"{checked.sha256}"'
        self.modified_at = checked.modified_at
        self._planned: tuple[Request[Any, Any, Any], Plan] | None = None
        self.headers.update(
            {
                "Content-Type": checked.content_type,  # as sniffed at upload; text names its charset
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": SANDBOX_CSP,
                "Content-Disposition": content_disposition(
                    checked.attachment.original_name, checked.extension
                ),
                "Cache-Control": f"private, max-age={max_age}",
                "Referrer-Policy": "no-referrer",
                "Cross-Origin-Resource-Policy": "same-site",
                "X-Robots-Tag": "noindex",
                "ETag": self.etag,
                "Last-Modified": http_date(self.modified_at),
                "Accept-Ranges": "bytes",
            }
        )

    def plan(self, request: Request[Any, Any, Any]) -> Plan:
        """The answer to `request` (worked out once for it)."""
        if self._planned is None or self._planned[0] is not request:
            self._planned = (request, self._plan(request))
        return self._planned[1]

    def _plan(self, request: Request[Any, Any, Any]) -> Plan:
        asked = request.headers

        def one(name: str) -> str | None:
            values = asked.getall(name, [])
            return ", ".join(values) if values else None

        ranges = asked.getall("range", [])
        decision = decide(
            size=self.size,
            etag=self.etag,
            last_modified=self.modified_at,
            range_header=ranges[0] if len(ranges) == 1 else None,  # several fields: ignored
            if_range=one("if-range"),
            if_none_match=one("if-none-match"),
            if_modified_since=one("if-modified-since"),
        )
        answer: dict[str, str] = {}
        if decision.status == 304:
            answer["Content-Length"] = str(self.size)  # what a 200 would carry (RFC 9110 8.6)
        else:
            answer["Content-Length"] = str(decision.slice.length)
        if decision.status == 206:
            answer["Content-Range"] = decision.slice.content_range(self.size)
        elif decision.status == 416:
            answer["Content-Range"] = f"bytes */{self.size}"
        handed_over = (
            None
            if self.accel is None
            else self.accel.target(
                self.stored_name,
                method=request.method,
                status=decision.status,
                fields=lambda name: asked.getall(name, []),
                etag=self.etag,
                last_modified=self.headers["Last-Modified"],
            )
        )
        if handed_over is not None:
            answer["Content-Length"] = "0"  # this answer's own body; nginx's carries the bytes
            answer["X-Accel-Redirect"] = handed_over
        no_body = request.method == "HEAD" or handed_over is not None or decision.status in (304, 416)
        carries = request.method != "HEAD" and decision.status not in (304, 416)
        return Plan(
            sends=decision.slice.length if carries else 0,
            status=decision.status,
            headers=answer,
            body_slice=None if no_body else decision.slice,
            whole=decision.slice == ByteRange(0, self.size),  # a 200, or a 206 of bytes=0-
            handed_over=handed_over,
        )

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        plan = self.plan(request)
        if plan.body_slice is not None and self.file is None:
            raise RuntimeError("this answer sends the file's bytes: the file must be open")
        if plan.sends:
            count_download("direct" if plan.handed_over is None else "nginx", plan.sends)
        answer = {**self.headers, **plan.headers}
        if plan.handed_over is not None:
            answer = AccelRedirect.renamed(answer)
        ours = {name.lower() for name in answer}
        route_headers = {k: v for k, v in (headers or {}).items() if k.lower() not in ours}
        return ASGIServedFile(
            file=self.file,
            local_path=self.local_path,
            closing=self.closing,
            status_code=plan.status,
            headers={**route_headers, **answer},
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            background=self.background or background,
            body_slice=plan.body_slice,
            whole=plan.whole,
            chunk_size=self.chunk_size,
        )


async def download_response(
    request: Request[Any, Any, Any],
    checked: Checked,
    open_file: Callable[[Checked], AbstractAsyncContextManager[Download]],
    *,
    max_age: int = MAX_AGE,
    accel: AccelRedirect | None = None,
    local_path: Callable[[OpenFile], str | None] = lambda _: None,
) -> FileResponse:
    """The answer about a checked file. One that nginx sends is decided from the row alone (the
    file is not opened: nginx opens it, and answers 404 itself if it is gone); otherwise the file is
    opened (`open_file`) and given to the response, which closes it when done. A thumbnail's size
    is not in its row, so a thumbnail is always opened."""
    if accel is not None and checked.size is not None:
        unopened = FileResponse(checked, max_age=max_age, accel=accel)
        if unopened.plan(request).handed_over is not None:
            return unopened
    async with AsyncExitStack() as stack:
        download = await stack.enter_async_context(open_file(checked))
        return FileResponse(
            download,
            max_age=max_age,
            closing=stack.pop_all(),
            accel=accel,
            local_path=local_path(download.file),
        )
