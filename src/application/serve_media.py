"""Serving a stored file, or one of its renditions (thumbnail, preview), to a member of its
conversation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from application.access import visible
from application.ports.access import AttachmentAccess
from application.ports.files import FileStore, OpenFile
from domain.attachment import (
    THUMBNAIL_CONTENT_TYPE,
    THUMBNAIL_EXTENSION,
    Attachment,
    Rendition,
    is_stored_name,
)
from domain.errors import NotFound


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    """A file the caller may see, known from its row before any byte of it is read: the
    attachment's own bytes, or a rendition's. Stored files never change: the attachment's
    creation is when its bytes (and its renditions') were last modified."""

    attachment: Attachment
    rendition: Rendition | None = None  # None: the file itself

    @property
    def content_type(self) -> str:
        return THUMBNAIL_CONTENT_TYPE if self.rendition else self.attachment.content_type

    @property
    def extension(self) -> str:
        return THUMBNAIL_EXTENSION if self.rendition else self.attachment.extension

    @property
    def sha256(self) -> str:
        digest = (
            self.attachment.rendition_sha256(self.rendition) if self.rendition else self.attachment.sha256
        )
        assert digest is not None
        return digest

    @property
    def stored_name(self) -> str:
        # The bytes' file, which other attachments of the same bytes share: reached only through
        # this attachment's own row, checked by its own name. A rendition is the attachment's own.
        name = (
            self.attachment.rendition_filename(self.rendition)
            if self.rendition
            else self.attachment.stored_as
        )
        assert name is not None
        return name

    @property
    def size(self) -> int | None:
        """The bytes' size as the row holds it; None for a rendition (its row holds no size)."""
        return None if self.rendition else self.attachment.size

    @property
    def modified_at(self) -> datetime:
        return self.attachment.created_at


@dataclass(frozen=True, slots=True, kw_only=True)
class Download(Checked):
    """A checked file, open."""

    file: OpenFile


class _Serving:
    def __init__(self, access: AttachmentAccess, files: FileStore) -> None:
        self._access = access
        self._files = files

    @asynccontextmanager
    async def open(self, checked: Checked) -> AsyncIterator[Download]:
        """The checked file, open until the block ends (NotFound if it is gone meanwhile)."""
        async with self._files.open(checked.stored_name) as file:
            yield Download(attachment=checked.attachment, rendition=checked.rendition, file=file)


class ServeMediaHandler(_Serving):
    """Rules: the name must be one the service gives (a UUID and an extension: anything else,
    traversal included, is no file); the file is served only through its row, to members of the
    row's conversation; everyone else, and every unknown name, gets the same NotFound. The access
    check comes before the store is touched (`check`: a caller that sends the bytes some other way,
    a presigned URL or nginx, never touches it), and no unit of work is held while bytes flow."""

    @asynccontextmanager
    async def __call__(self, user_id: str, filename: str) -> AsyncIterator[Download]:
        async with self.open(await self.check(user_id, filename)) as download:
            yield download

    async def check(self, user_id: str, filename: str) -> Checked:
        if not is_stored_name(filename):
            raise NotFound("No such file.")
        return Checked(attachment=visible(await self._access.seen_by_filename(user_id, filename), user_id))


class ServeRenditionHandler(_Serving):
    """Rules: the file's own: members of the attachment's conversation see its rendition (one
    handler per rendition: thumbnail, preview); everyone else and every unknown id get the same
    NotFound, before the store is touched. A member asking for a rendition that was never made (a
    document, an image that did not decode, an image too small for a preview) gets a NotFound that
    says so: they may know the file is there."""

    def __init__(self, access: AttachmentAccess, files: FileStore, rendition: Rendition) -> None:
        super().__init__(access, files)
        self.rendition = rendition

    @asynccontextmanager
    async def __call__(self, user_id: str, media_id: uuid.UUID) -> AsyncIterator[Download]:
        async with self.open(await self.check(user_id, media_id)) as download:
            yield download

    async def check(self, user_id: str, media_id: uuid.UUID) -> Checked:
        attachment = visible(await self._access.seen_by_id(user_id, media_id), user_id)
        if attachment.rendition_filename(self.rendition) is None:
            raise NotFound(f"This file has no {self.rendition.route}.")
        return Checked(attachment=attachment, rendition=self.rendition)
