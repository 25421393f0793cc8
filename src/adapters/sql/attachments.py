"""The attachment repository over SQLAlchemy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from advanced_alchemy.exceptions import IntegrityError
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql import statements
from adapters.sql.alchemy import rows_of
from adapters.sql.contents import SqlContentRepository
from adapters.sql.mappers import attachment_of, attachment_row, seen_of
from adapters.sql.models import AttachmentRow, MessageRow, StoredContentRow
from adapters.sql.reader import Reader, SessionReader
from application.ports.repositories import AttachmentSeen, MessageMediaSeen
from domain.attachment import Attachment, Rendition, rendition_name, rendition_owner
from domain.errors import NotFound

_table = AttachmentRow.__table__  # rows, not ORM objects, for the mappers


class _Attachments(SQLAlchemyAsyncRepository[AttachmentRow]):
    model_type = AttachmentRow


class SqlAttachmentReads:
    def __init__(self, reader: Reader) -> None:
        self._read = reader

    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None:
        return await self._seen(statements.SEEN_BY_ID, {"id": attachment_id, "viewer": viewer})

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None:
        return await self._seen(statements.SEEN_BY_FILENAME, {"filename": filename, "viewer": viewer})

    async def _seen(self, query: Select[Any], parameters: dict[str, object]) -> AttachmentSeen | None:
        found = await self._read.rows(query, parameters)
        return seen_of(found[0] if found else None)

    async def list_for_messages(self, message_ids: Sequence[uuid.UUID]) -> Sequence[Attachment]:
        if not message_ids:
            return []
        rows = await self._read.rows(statements.ATTACHMENTS_OF, {"message_ids": list(message_ids)})
        return [attachment_of(row) for row in rows]

    async def seen_of_message(self, viewer: str, message_id: uuid.UUID) -> MessageMediaSeen | None:
        rows = await self._read.rows(statements.MEDIA_OF_MESSAGE_SEEN, {"id": message_id, "viewer": viewer})
        if not rows:
            return None
        attachments = [attachment_of(row) for row in rows if row._mapping["id"] is not None]
        return MessageMediaSeen(attachments, bool(rows[0]._mapping["viewer_is_member"]))


class SqlAttachmentRepository(SqlAttachmentReads):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(SessionReader(session))
        self._session = session

    @cached_property
    def _rows(self) -> _Attachments:
        return rows_of(_Attachments, self._session)

    async def add(self, attachment: Attachment) -> None:
        last = (
            None
            if attachment.message_id is None
            else await self._session.scalar(
                select(func.max(AttachmentRow.position)).where(
                    AttachmentRow.message_id == attachment.message_id
                )
            )
        )
        try:
            await self._rows.add(attachment_row(attachment, 0 if last is None else last + 1))
        except IntegrityError:  # the message went meanwhile (the names are fresh UUIDs)
            raise NotFound("No such message.") from None

    async def count_for_message(self, message_id: uuid.UUID) -> int:
        return await self._rows.count(AttachmentRow.message_id == message_id)

    async def delete(self, attachment_id: uuid.UUID) -> Sequence[str]:
        return await self._delete(AttachmentRow.id == attachment_id)

    async def delete_for_message(self, message_id: uuid.UUID) -> Sequence[str]:
        # PostgreSQL: FOR UPDATE conflicts with the key-share lock an attachment's foreign key
        # check takes, so an upload to this message waits for this transaction (and then finds the
        # message gone) or, when it came first, has committed before the DELETE below reads.
        # SQLite renders no lock: the DELETE, this transaction's first write, takes the database's.
        await self._session.execute(
            select(MessageRow.id).where(MessageRow.id == message_id).with_for_update()
        )
        return await self._delete(AttachmentRow.message_id == message_id)

    async def _delete(self, which: Any) -> list[str]:
        """Deletes the rows and drops their references: one place for every delete."""
        deleted = (
            await self._session.execute(
                delete(AttachmentRow)
                .where(which)
                .returning(
                    AttachmentRow.id,
                    AttachmentRow.content_name,
                    AttachmentRow.thumbnail_sha256,
                    AttachmentRow.preview_sha256,
                )
                .execution_options(synchronize_session=False)
            )
        ).all()
        gone = await SqlContentRepository(self._session).release([row.content_name for row in deleted])
        renditions = [
            rendition_name(row.id, rendition)
            for row in deleted
            for rendition, digest in (
                (Rendition.THUMBNAIL, row.thumbnail_sha256),
                (Rendition.PREVIEW, row.preview_sha256),
            )
            if digest is not None
        ]
        return renditions + gone

    async def attach(self, attachment_ids: Sequence[uuid.UUID], message_id: uuid.UUID) -> None:
        for position, attachment_id in enumerate(attachment_ids):
            await self._session.execute(
                update(AttachmentRow)
                .where(AttachmentRow.id == attachment_id, AttachmentRow.message_id.is_(None))
                .values(message_id=message_id, position=position)
                .execution_options(synchronize_session=False)
            )

    async def bytes_stored_by(self, uploader_id: str) -> int:
        total = await self._session.scalar(
            select(func.coalesce(func.sum(AttachmentRow.size), 0)).where(
                AttachmentRow.uploader_id == uploader_id
            )
        )
        return int(total or 0)

    async def drafts_created_before(self, cutoff: datetime, limit: int) -> Sequence[Attachment]:
        rows = await self._read.rows(
            select(_table)
            .where(_table.c.message_id.is_(None), _table.c.created_at < cutoff)
            .order_by(_table.c.created_at)
            .limit(limit),
            {},
        )
        return [attachment_of(row) for row in rows]

    async def stored_filenames(self, filenames: Sequence[str]) -> frozenset[str]:
        if not filenames:
            return frozenset()
        names = set(
            await self._session.scalars(
                select(StoredContentRow.name).where(StoredContentRow.name.in_(filenames))
            )
        )
        for rendition, digest in (
            (Rendition.THUMBNAIL, AttachmentRow.thumbnail_sha256),
            (Rendition.PREVIEW, AttachmentRow.preview_sha256),
        ):
            owners = {
                owner[0]: name
                for name in filenames
                if (owner := rendition_owner(name)) is not None and owner[1] is rendition
            }
            if owners:
                having = await self._session.scalars(
                    select(AttachmentRow.id).where(AttachmentRow.id.in_(owners), digest.is_not(None))
                )
                names.update(owners[owner] for owner in having)
        return frozenset(names)

    async def unscanned(self, limit: int, *, after: uuid.UUID | None = None) -> Sequence[Attachment]:
        query = select(_table).where(_table.c.unscanned)
        if after is not None:
            query = query.where(_table.c.id > after)
        rows = await self._read.rows(query.order_by(_table.c.id).limit(limit), {})
        return [attachment_of(row) for row in rows]

    async def mark_scanned(self, attachment_id: uuid.UUID) -> None:
        await self._session.execute(
            update(AttachmentRow)
            .where(AttachmentRow.id == attachment_id)
            .values(unscanned=False)
            .execution_options(synchronize_session=False)
        )
