"""Serving a stored file, or its thumbnail, to a member of its conversation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from application.access import visible
from application.ports import AttachmentAccess, FileStore, OpenFile
from domain.attachment import (
    THUMBNAIL_CONTENT_TYPE,
    THUMBNAIL_EXTENSION,
    Attachment,
    is_stored_name,
)
from domain.errors import NotFound


@dataclass(frozen=True, slots=True, kw_only=True)
class Download:
    """An open file and what to say about it: the attachment's own bytes, or its thumbnail's."""

    attachment: Attachment
    file: OpenFile
    thumbnail: bool = False

    @property
    def content_type(self) -> str:
        return THUMBNAIL_CONTENT_TYPE if self.thumbnail else self.attachment.content_type

    @property
    def extension(self) -> str:
        return THUMBNAIL_EXTENSION if self.thumbnail else self.attachment.extension

    @property
    def sha256(self) -> str:
        digest = self.attachment.thumbnail_sha256 if self.thumbnail else self.attachment.sha256
        assert digest is not None
        return digest


class ServeMediaHandler:
    """Rules: the name must be one the service gives (a UUID and an extension: anything else,
    traversal included, is no file); the file is served only through its row, to members of the
    row's conversation; everyone else, and every unknown name, gets the same NotFound. The access
    check comes before the store is touched, and the database is released before bytes flow."""

    def __init__(self, access: AttachmentAccess, files: FileStore) -> None:
        self._access = access
        self._files = files

    @asynccontextmanager
    async def __call__(self, user_id: str, filename: str) -> AsyncIterator[Download]:
        attachment = await self.attachment(user_id, filename)
        async with self._files.open(attachment.filename) as file:
            yield Download(attachment=attachment, file=file)

    async def attachment(self, user_id: str, filename: str) -> Attachment:
        """The access check alone, for a caller that sends the bytes some other way (a presigned
        URL): the same rules, the same NotFound, and the store is not touched."""
        if not is_stored_name(filename):
            raise NotFound("No such file.")
        return visible(await self._access.seen_by(user_id, filename=filename), user_id)


class ServeThumbnailHandler:
    """Rules: the file's own: members of the attachment's conversation see its thumbnail; everyone
    else and every unknown id get the same NotFound, before the store is touched. A member asking
    for a thumbnail that was never made (a document, an image that did not decode) gets a NotFound
    that says so: they may know the file is there."""

    def __init__(self, access: AttachmentAccess, files: FileStore) -> None:
        self._access = access
        self._files = files

    @asynccontextmanager
    async def __call__(self, user_id: str, media_id: uuid.UUID) -> AsyncIterator[Download]:
        attachment = visible(await self._access.seen_by(user_id, attachment_id=media_id), user_id)
        thumbnail = attachment.thumbnail_filename
        if thumbnail is None:
            raise NotFound("This file has no thumbnail.")
        async with self._files.open(thumbnail) as file:
            yield Download(attachment=attachment, file=file, thumbnail=True)
