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
from adapters.sql.reader import Reader, SessionReader
from domain.conversation import Message
from domain.errors import NotFound


class _Messages(SQLAlchemyAsyncRepository[MessageRow]):
    model_type = MessageRow


class SqlMessageReads:
    def __init__(self, reader: Reader) -> None:
        self._read = reader

    async def get(self, message_id: uuid.UUID) -> Message | None:
        found = await self._read.rows(statements.MESSAGE, {"id": message_id})
        return message_of(found[0]) if found else None

    async def list_page(
        self, conversation_id: uuid.UUID, *, before: uuid.UUID | None, limit: int
    ) -> Sequence[Message]:
        if before is None:
            rows = await self._read.rows(
                statements.MESSAGE_PAGE, {"conversation_id": conversation_id, "limit": limit}
            )
        else:
            anchor = await self._read.rows(
                statements.MESSAGE_SEQ, {"id": before, "conversation_id": conversation_id}
            )
            if not anchor:
                raise NotFound("No such message in this conversation.")
            rows = await self._read.rows(
                statements.MESSAGE_PAGE_BEFORE,
                {"conversation_id": conversation_id, "limit": limit, "seq": anchor[0].seq},
            )
        return [message_of(row) for row in rows]


class SqlMessageRepository(SqlMessageReads):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(SessionReader(session))
        self._session = session

    @cached_property
    def _rows(self) -> _Messages:
        return rows_of(_Messages, self._session)

    async def add(self, message: Message) -> None:
        await self._rows.add(message_row(message))

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
