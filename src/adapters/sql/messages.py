"""The message repository over SQLAlchemy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cached_property

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql import statements
from adapters.sql.alchemy import rows_of
from adapters.sql.mappers import message_of, message_row
from adapters.sql.models import MessageRow
from domain.conversation import Message
from domain.errors import NotFound


class _Messages(SQLAlchemyAsyncRepository[MessageRow]):
    model_type = MessageRow


class SqlMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @cached_property
    def _rows(self) -> _Messages:
        return rows_of(_Messages, self._session)

    async def add(self, message: Message) -> None:
        await self._rows.add(message_row(message))

    async def get(self, message_id: uuid.UUID) -> Message | None:
        row = (await self._session.execute(statements.MESSAGE, {"id": message_id})).first()
        return None if row is None else message_of(row)

    async def list_page(
        self, conversation_id: uuid.UUID, *, before: uuid.UUID | None, limit: int
    ) -> Sequence[Message]:
        query = select(MessageRow).where(MessageRow.conversation_id == conversation_id)
        if before is not None:
            anchor = await self._session.scalar(
                select(MessageRow.seq).where(
                    MessageRow.id == before, MessageRow.conversation_id == conversation_id
                )
            )
            if anchor is None:
                raise NotFound("No such message in this conversation.")
            query = query.where(MessageRow.seq < anchor)
        rows = await self._session.scalars(query.order_by(MessageRow.seq.desc()).limit(limit))
        return [message_of(row) for row in rows]

    async def set_has_media(self, message_id: uuid.UUID, has_media: bool) -> None:
        await self._session.execute(
            update(MessageRow)
            .where(MessageRow.id == message_id)
            .values(has_media=has_media)
            .execution_options(synchronize_session="fetch")
        )

    async def hold(self, message_id: uuid.UUID) -> bool:
        # PostgreSQL: the key-share lock an attachment's foreign key check would take anyway, taken
        # first; the message's delete (FOR UPDATE) waits for it. SQLite renders no lock: one writer.
        held = await self._session.scalar(
            select(MessageRow.id).where(MessageRow.id == message_id).with_for_update(key_share=True)
        )
        return held is not None

    async def delete(self, message_id: uuid.UUID) -> None:
        # The attachment rows go by the foreign key's ON DELETE CASCADE, in the same statement.
        await self._rows.delete_where(MessageRow.id == message_id, sanity_check=False)
