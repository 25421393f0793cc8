"""Resumable uploads over the tus 1.0 protocol (core, creation, termination, expiration), under
`/api/v1/media/uploads`. The finished upload's attachment id comes back in `Upload-Attachment-Id`
(on the last PATCH, and on HEAD afterwards): tus answers 204s, so there is no body to put it in."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from litestar import Controller, HttpMethod, Request, Response, delete, patch, route
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.types import ExceptionHandler, Receive

from application.resumable import AppendToUpload, CreateUpload, ResumableUploads, UploadState
from domain.errors import MalformedUpload, UnsupportedMediaType, UploadAborted
from domain.resumable import UploadSession
from entrypoints.http.auth import AuthRequest
from entrypoints.http.body_deadline import BodyLimits, DeadlineReceive
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.schemas import message_id_of
from entrypoints.settings import Settings

TUS_VERSION = "1.0.0"
UPLOADS_PATH = "/api/v1/media/uploads"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
MAX_METADATA_BYTES = 4096


def _saying_tus_resumable(handler: ExceptionHandler[Any]) -> ExceptionHandler[Any]:
    def answer(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response = handler(request, exc)
        response.headers["Tus-Resumable"] = TUS_VERSION
        return response

    return answer


class TusController(Controller):
    path = UPLOADS_PATH
    tags = ["media"]
    # `Tus-Resumable` on every answer, refusals included: a route's exception handlers also answer
    # what its middleware raises (the 401 of the bearer middleware). Not a `before_send` hook: one
    # runs for every ASGI message of every connection, each WebSocket frame included (15 ms of
    # server CPU per event to 1,000 sockets, measured).
    response_headers = {"Tus-Resumable": TUS_VERSION}
    exception_handlers = {
        kind: _saying_tus_resumable(handler) for kind, handler in EXCEPTION_HANDLERS.items()
    }

    # One handler for both: Litestar adds its own OPTIONS handler to a path whose handlers lack one,
    # and which of two OPTIONS handlers on a path wins depends on their ids (memory addresses).
    @route(
        "/",
        http_method=[HttpMethod.POST, HttpMethod.OPTIONS],
        status_code=201,
        summary="Create a resumable upload (Upload-Length, Upload-Metadata); OPTIONS: tus discovery",
    )
    async def create(
        self,
        request: AuthRequest,
        resumable_uploads: NamedDependency[ResumableUploads],
        settings: NamedDependency[Settings],
    ) -> Response[None]:
        if request.method == HttpMethod.OPTIONS:
            return _empty(
                204,
                {
                    "Tus-Version": TUS_VERSION,
                    "Tus-Extension": "creation,termination,expiration",
                    "Tus-Max-Size": str(settings.policy.max_upload_size),
                },
            )
        _require_tus(request)
        length = _whole_number(request.headers.get("upload-length"), "Upload-Length")
        metadata = parse_metadata(request.headers.get("upload-metadata", ""))
        name = metadata.get("filename")
        if not name:
            raise MalformedUpload("Upload-Metadata must name the file: 'filename <base64 of the name>'.")
        session = await resumable_uploads.create(
            CreateUpload(
                uploader_id=request.user.id,
                original_name=name,
                length=length,
                message_id=message_id_of(raw) if (raw := metadata.get("message_id")) else None,
            )
        )
        return _empty(
            201, {"Location": f"{UPLOADS_PATH}/{session.id}", "Upload-Expires": _http_date(session)}
        )

    @route("/{upload_id:uuid}", http_method=[HttpMethod.HEAD], summary="A resumable upload's offset")
    async def offset(
        self,
        request: AuthRequest,
        upload_id: FromPath[uuid.UUID],
        resumable_uploads: NamedDependency[ResumableUploads],
    ) -> Response[None]:
        _require_tus(request)
        state = await resumable_uploads.state(request.user.id, upload_id)
        headers = _state_headers(state)
        headers["Upload-Length"] = str(state.session.length)
        headers["Cache-Control"] = "no-store"
        return _empty(200, headers)

    @patch(
        "/{upload_id:uuid}",
        status_code=204,
        request_max_body_size=None,  # the session's announced length caps it, at the byte
        summary="Append bytes at Upload-Offset (Content-Type: application/offset+octet-stream)",
    )
    async def append(
        self,
        request: AuthRequest,
        upload_id: FromPath[uuid.UUID],
        resumable_uploads: NamedDependency[ResumableUploads],
        settings: NamedDependency[Settings],
    ) -> Response[None]:
        _require_tus(request)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != OFFSET_CONTENT_TYPE:
            raise UnsupportedMediaType(f"A PATCH body must be sent as {OFFSET_CONTENT_TYPE}.")
        offset = _whole_number(request.headers.get("upload-offset"), "Upload-Offset")
        state = await resumable_uploads.append(
            AppendToUpload(
                uploader_id=request.user.id,
                upload_id=upload_id,
                offset=offset,
                chunks=body_chunks(DeadlineReceive(request.receive, BodyLimits.of(settings))),
            )
        )
        return _empty(204, _state_headers(state))

    @delete("/{upload_id:uuid}", status_code=204, summary="Terminate a resumable upload")
    async def terminate(
        self,
        request: AuthRequest,
        upload_id: FromPath[uuid.UUID],
        resumable_uploads: NamedDependency[ResumableUploads],
    ) -> None:
        _require_tus(request)
        await resumable_uploads.terminate(request.user.id, upload_id)


async def body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as it arrives on the ASGI channel (under its deadlines: a stall or a trickle
    raises UploadAborted); a disconnect ends it with UploadAborted too (what came before is the use
    case's to keep)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise UploadAborted("The client went away before the upload finished.")
        chunk = message.get("body", b"")
        if isinstance(chunk, bytes) and chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def parse_metadata(header: str) -> Mapping[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (a value may be absent)."""
    if len(header) > MAX_METADATA_BYTES:
        raise MalformedUpload(f"Upload-Metadata is longer than {MAX_METADATA_BYTES} bytes.")
    pairs: dict[str, str] = {}
    for item in header.split(","):
        key, _, encoded = item.strip().partition(" ")
        if not key:
            continue
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MalformedUpload(f"Upload-Metadata's '{key}' is not base64 of UTF-8 text.") from None
    return pairs


def _require_tus(request: Request[Any, Any, Any]) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise HTTPException(
            status_code=412,
            detail=f"This server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}.",
            headers={"Tus-Version": TUS_VERSION},
        )


def _whole_number(raw: str | None, name: str) -> int:
    if raw is None or not raw.strip().isdigit():
        raise MalformedUpload(f"{name} must be given as a whole number of bytes.")
    return int(raw)


def _http_date(session: UploadSession) -> str:
    expires: datetime = session.expires_at
    return format_datetime(expires, usegmt=True)


def _state_headers(state: UploadState) -> dict[str, str]:
    headers = {"Upload-Offset": str(state.offset), "Upload-Expires": _http_date(state.session)}
    if state.attachment_id is not None:
        headers["Upload-Attachment-Id"] = str(state.attachment_id)
    return headers


def _empty(status_code: int, headers: dict[str, str]) -> Response[None]:
    return Response(None, status_code=status_code, headers=headers, media_type="text/plain")
