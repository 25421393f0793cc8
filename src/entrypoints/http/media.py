"""The seed's four media endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from litestar import Controller, HttpMethod, Response, delete, get, post, route
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from application.delete_media import DeleteMedia, DeleteMediaHandler
from application.ports.files import OpenFile
from application.queries import ChatQueries
from application.serve_media import Checked, Download, ServeMediaHandler, ServeRenditionHandler
from application.upload_media import UploadMedia
from domain.attachment import MediaKind
from domain.policy import MAX_FILES_PER_MESSAGE
from entrypoints.http.accel import AccelRedirect
from entrypoints.http.auth import SIGNED_URLS, AuthRequest, media_links, signed_max_age
from entrypoints.http.body_deadline import BodyLimits, DeadlineReceive
from entrypoints.http.file_response import MAX_AGE, FileResponse, download_response
from entrypoints.http.multipart_form import StreamingForm, upload_form
from entrypoints.http.presigned import PresignedDownloads
from entrypoints.http.schemas import (
    AttachmentOut,
    PolicyOut,
    QuotaOut,
    ResumableOut,
    SignedUrlsOut,
    SignIn,
    attachment_out,
    signed_urls_out,
)
from entrypoints.http.tus import UPLOADS_PATH
from entrypoints.settings import Settings


@dataclass(frozen=True, slots=True)
class Downloads:
    """What the two download routes need, as one dependency: Litestar resolves two or more of a
    handler's dependencies in a task group of their own, a task each (litestar#4563), which cost
    ~0.3 ms of every download's answer here (850-940 us -> 555-580 us in-process)."""

    files: ServeMediaHandler
    thumbnails: ServeRenditionHandler
    previews: ServeRenditionHandler
    presigned: PresignedDownloads | None = None  # S3_PRESIGNED_DOWNLOADS
    accel: AccelRedirect | None = None  # ACCEL_REDIRECT_PREFIX
    local_path: Callable[[OpenFile], str | None] = lambda _: None  # the store's, for pathsend and nginx

    async def answer(
        self,
        request: AuthRequest,
        checked: Checked,
        open_file: Callable[[Checked], AbstractAsyncContextManager[Download]],
    ) -> FileResponse:
        """The file's answer, sent by this service, by pathsend or by nginx: what both routes give."""
        return await download_response(
            request,
            checked,
            open_file,
            max_age=signed_max_age(request, MAX_AGE),
            accel=self.accel,
            local_path=self.local_path,
        )


class MediaController(Controller):
    path = "/api/v1/media"
    tags = ["media"]

    @post(
        "/upload",
        status_code=201,
        request_max_body_size=None,  # the use case caps each file at the byte while it streams
        summary="Upload one or more files (multipart parts named 'file') to a message ('message_id')",
    )
    async def upload(
        self,
        request: AuthRequest,
        upload_media: NamedDependency[UploadMedia],
        settings: NamedDependency[Settings],
    ) -> list[AttachmentOut]:
        receive = DeadlineReceive(request.receive, BodyLimits.of(settings))
        form = StreamingForm(receive, request.headers.get("content-type"))
        attachments = await upload_form(upload_media, request.user.id, form.parts())
        links = media_links(request)
        return [attachment_out(a, links) for a in attachments]

    @route(
        "/files/{filename:str}",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        opt={SIGNED_URLS: True},
        summary="A stored file, to members of its conversation (Range, If-None-Match, If-Range honoured)",
        description="404 for an unknown name and for a caller who may not see the file alike. "
        "With S3_PRESIGNED_DOWNLOADS=true, a GET answers 307 to a short-lived URL of the object store. "
        "The bearer header or the signed URL (exp, u, sig) an attachment's `url` carries.",
    )
    async def serve(
        self, request: AuthRequest, filename: FromPath[str], downloads: NamedDependency[Downloads]
    ) -> Response[Any]:
        checked = await downloads.files.check(request.user.id, filename)
        if downloads.presigned is not None and request.method == HttpMethod.GET:
            return await downloads.presigned.redirect(checked.attachment)
        response: FileResponse = await downloads.answer(request, checked, downloads.files.open)
        return response

    @route(
        "/{media_id:uuid}/thumbnail",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        opt={SIGNED_URLS: True},
        summary="An attachment's thumbnail (WebP, at most 320 px on its long side), to members alike",
        description="404 for an unknown id, a caller who may not see the file, and a file without one.",
    )
    async def thumbnail(
        self, request: AuthRequest, media_id: FromPath[uuid.UUID], downloads: NamedDependency[Downloads]
    ) -> FileResponse:
        checked = await downloads.thumbnails.check(request.user.id, media_id)
        return await downloads.answer(request, checked, downloads.thumbnails.open)

    @route(
        "/{media_id:uuid}/preview",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        opt={SIGNED_URLS: True},
        summary="An image's display-size preview (WebP, at most 1600 px on its long side), to members alike",
        description="Made for images over 1600 px on their long side; the file itself stays the download. "
        "404 for an unknown id, a caller who may not see the file, and a file without one.",
    )
    async def preview(
        self, request: AuthRequest, media_id: FromPath[uuid.UUID], downloads: NamedDependency[Downloads]
    ) -> FileResponse:
        checked = await downloads.previews.check(request.user.id, media_id)
        return await downloads.answer(request, checked, downloads.previews.open)

    @get("/message/{message_id:uuid}", summary="A message's attachments")
    async def of_message(
        self, request: AuthRequest, message_id: FromPath[uuid.UUID], queries: NamedDependency[ChatQueries]
    ) -> list[AttachmentOut]:
        links = media_links(request)
        return [attachment_out(a, links) for a in await queries.media_of_message(request.user.id, message_id)]

    @post(
        "/sign",
        status_code=200,
        summary="Fresh signed URLs for up to 100 attachments the caller may see (the others left out)",
    )
    async def sign(
        self, request: AuthRequest, data: JSONBody[SignIn], queries: NamedDependency[ChatQueries]
    ) -> list[SignedUrlsOut]:
        links = media_links(request)
        return [
            signed_urls_out(a, links)
            for a in await queries.visible_media(request.user.id, data.attachment_ids)
        ]

    @get("/policy", summary="What an upload must be, for clients to check files before sending them")
    async def policy(
        self, request: AuthRequest, queries: NamedDependency[ChatQueries], settings: NamedDependency[Settings]
    ) -> PolicyOut:
        policy = settings.policy
        quota = policy.storage_quota
        used = await queries.bytes_stored(request.user.id)
        extensions: dict[str, list[str]] = {kind.value: [] for kind in MediaKind}
        for extension, kind in sorted(policy.kinds.items()):
            extensions[kind.value].append(extension)
        return PolicyOut(
            max_upload_size=policy.max_upload_size,
            extensions=extensions,
            max_attachments_per_message=MAX_FILES_PER_MESSAGE,
            max_image_pixels=policy.max_image_pixels,
            resumable=ResumableOut(
                path=UPLOADS_PATH, max_size=policy.max_upload_size, ttl_s=int(settings.resumable_ttl)
            ),
            quota=QuotaOut(limit=quota, used=used, remaining=None if quota is None else max(0, quota - used)),
            upload_rate_per_minute=settings.upload_rate,
        )

    @delete("/{media_id:uuid}", status_code=204, summary="Delete an attachment (uploader only)")
    async def delete_one(
        self,
        request: AuthRequest,
        media_id: FromPath[uuid.UUID],
        delete_media: NamedDependency[DeleteMediaHandler],
    ) -> None:
        await delete_media(DeleteMedia(user_id=request.user.id, media_id=media_id))
