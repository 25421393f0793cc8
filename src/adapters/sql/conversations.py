"""The conversation repository over SQLAlchemy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql import statements
from adapters.sql.alchemy import rows_of
from adapters.sql.mappers import conversation_of, conversation_row
from adapters.sql.models import ConversationRow, MemberRow
from adapters.sql.reader import Reader, SessionReader
from domain.conversation import Conversation
from domain.errors import NotFound


class _Conversations(SQLAlchemyAsyncRepository[ConversationRow]):
    model_type = ConversationRow


class SqlConversationReads:
    """Members are read as plain user ids in one query, never as ORM objects: a group of 1,000 is
    loaded in a few milliseconds, and a membership check reads one index entry."""

    def __init__(self, reader: Reader) -> None:
        self._read = reader

    async def get(self, conversation_id: uuid.UUID) -> Conversation | None:
        found = await self._read.rows(statements.CONVERSATION, {"id": conversation_id})
        if not found:
            return None
        members = await self._read.rows(statements.MEMBER_IDS, {"conversation_id": conversation_id})
        return conversation_of(found[0], frozenset(m.user_id for m in members))

    async def is_member(self, conversation_id: uuid.UUID, user_id: str) -> bool:
        found = await self._read.rows(
            statements.IS_MEMBER, {"conversation_id": conversation_id, "user_id": user_id}
        )
        return bool(found)

    async def list_for_member(self, user_id: str) -> Sequence[Conversation]:
        rows = await self._read.rows(statements.CONVERSATIONS_OF, {"user_id": user_id})
        members: dict[uuid.UUID, set[str]] = {row.id: set() for row in rows}
        if rows:
            for pair in await self._read.rows(statements.MEMBERS_OF_CONVERSATIONS_OF, {"user_id": user_id}):
                members[pair.conversation_id].add(pair.user_id)
        return [conversation_of(row, frozenset(members[row.id])) for row in rows]


class SqlConversationRepository(SqlConversationReads):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(SessionReader(session))
        self._session = session

    @cached_property
    def _rows(self) -> _Conversations:
        return rows_of(_Conversations, self._session)

    async def add(self, conversation: Conversation) -> None:
        await self._rows.add(conversation_row(conversation))

    async def find_direct(self, member_a: str, member_b: str) -> Conversation | None:
        found = await self._read.rows(
            select(ConversationRow.__table__).where(
                ConversationRow.direct_pair == "\n".join(sorted((member_a, member_b)))
            ),
            {},
        )
        return conversation_of(found[0], frozenset((member_a, member_b))) if found else None

    async def add_members(self, conversation_id: uuid.UUID, user_ids: frozenset[str]) -> None:
        if not user_ids:
            return
        present = set(
            await self._session.scalars(
                select(MemberRow.user_id).where(
                    MemberRow.conversation_id == conversation_id, MemberRow.user_id.in_(user_ids)
                )
            )
        )
        added = [{"conversation_id": conversation_id, "user_id": u} for u in sorted(user_ids - present)]
        if added:  # one INSERT of many rows; the ids come from the model's Python-side default
            await self._session.execute(insert(MemberRow), added)

    async def remove_member(self, conversation_id: uuid.UUID, user_id: str) -> None:
        # One DELETE, whatever loads the members; what it returns tells whether they were one.
        removed = await self._session.scalar(
            delete(MemberRow)
            .where(MemberRow.conversation_id == conversation_id, MemberRow.user_id == user_id)
            .returning(MemberRow.id)
            .execution_options(synchronize_session=False)
        )
        if removed is None:
            raise NotFound("No such member in this conversation.")

    async def advance(self, conversation_id: uuid.UUID, at: datetime) -> int:
        # One UPDATE ... RETURNING: the row lock makes concurrent changes take turns, so no two get
        # the same number (PostgreSQL row lock; SQLite has one writer at a time).
        seq = await self._session.scalar(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id)
            .values(last_seq=ConversationRow.last_seq + 1, last_activity_at=at)
            .returning(ConversationRow.last_seq)
            .execution_options(synchronize_session=False)
        )
        if seq is None:
            raise NotFound("No such conversation.")
        return int(seq)
