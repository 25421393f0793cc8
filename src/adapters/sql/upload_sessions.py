"""The resumable uploads' sessions in SQL, with the two functions that map rows and sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.models import UploadSessionRow
from domain.errors import NotFound
from domain.resumable import UploadSession


def upload_session_row(session: UploadSession) -> UploadSessionRow:
    return UploadSessionRow(
        id=session.id,
        uploader_id=session.uploader_id,
        original_name=session.original_name,
        message_id=session.message_id,
        length=session.length,
        created_at=session.created_at,
        expires_at=session.expires_at,
        attachment_id=session.attachment_id,
    )


def upload_session_of(row: UploadSessionRow) -> UploadSession:
    return UploadSession(
        id=row.id,
        uploader_id=row.uploader_id,
        original_name=row.original_name,
        message_id=row.message_id,
        length=row.length,
        created_at=row.created_at,
        expires_at=row.expires_at,
        attachment_id=row.attachment_id,
    )


class SqlUploadSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, session: UploadSession) -> None:
        self._session.add(upload_session_row(session))
        try:
            await self._session.flush()
        except IntegrityError:  # the message went meanwhile
            raise NotFound("No such message.") from None

    async def get(self, session_id: uuid.UUID) -> UploadSession | None:
        row = await self._session.get(UploadSessionRow, session_id)
        return None if row is None else upload_session_of(row)

    async def finish(self, session_id: uuid.UUID, attachment_id: uuid.UUID) -> None:
        await self._session.execute(
            update(UploadSessionRow)
            .where(UploadSessionRow.id == session_id)
            .values(attachment_id=attachment_id)
        )

    async def delete(self, session_id: uuid.UUID) -> None:
        await self._session.execute(delete(UploadSessionRow).where(UploadSessionRow.id == session_id))

    async def expired(self, now: datetime, limit: int) -> Sequence[UploadSession]:
        rows = await self._session.scalars(
            select(UploadSessionRow)
            .where(UploadSessionRow.expires_at <= now)
            .order_by(UploadSessionRow.expires_at)
            .limit(limit)
        )
        return [upload_session_of(row) for row in rows]
