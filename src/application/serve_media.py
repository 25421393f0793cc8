"""Serving a stored file to a member of its conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from application.access import visible_attachment
from application.ports import FileStore, OpenFile, UnitOfWorkFactory
from domain.attachment import Attachment, is_stored_name
from domain.errors import NotFound


@dataclass(frozen=True, slots=True, kw_only=True)
class Download:
    attachment: Attachment
    file: OpenFile


class ServeMediaHandler:
    """Rules: the name must be one the service gives (a UUID and an extension: anything else,
    traversal included, is no file); the file is served only through its row, to members of the
    row's conversation; everyone else, and every unknown name, gets the same NotFound. The access
    check comes before the store is touched, and the database is released before bytes flow."""

    def __init__(self, uow: UnitOfWorkFactory, files: FileStore) -> None:
        self._uow = uow
        self._files = files

    @asynccontextmanager
    async def __call__(self, user_id: str, filename: str) -> AsyncIterator[Download]:
        if not is_stored_name(filename):
            raise NotFound("No such file.")
        async with self._uow() as uow:
            attachment = await visible_attachment(
                uow, await uow.attachments.get_by_filename(filename), user_id
            )
        async with self._files.open(attachment.filename) as file:
            yield Download(attachment=attachment, file=file)
