"""The event log over SQL: each event stored as msgspec JSON of its dataclass, under its type's name.

This is a storage format, not the wire format: the WebSocket endpoint renders logged events into
the contract's shapes. The cursor is the row's id; PostgreSQL hands ids out at insert, not at
commit, so a replay may miss an event that committed late with a lower id: the per-conversation
`seq` lets the client see that gap and fill it from the message history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.models import EventRow, MemberRow
from application.events import Event, Logged, MediaAttached, MediaDeleted, MessageCreated, MessageDeleted

EVENT_TYPES: dict[str, type[Event]] = {
    "message.created": MessageCreated,
    "media.attached": MediaAttached,
    "media.deleted": MediaDeleted,
    "message.deleted": MessageDeleted,
}
_NAME_OF = {kind: name for name, kind in EVENT_TYPES.items()}


def _logged(row: EventRow) -> Logged:
    event: Event = msgspec.json.decode(row.payload, type=EVENT_TYPES[row.kind])
    return Logged(cursor=row.id, event=event)


class SqlEventLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, event: Event) -> Logged:
        row = EventRow(
            conversation_id=event.conversation_id,
            seq=event.seq,
            kind=_NAME_OF[type(event)],
            payload=msgspec.json.encode(event),
            created_at=datetime.now(UTC),
        )
        self._session.add(row)
        await self._session.flush()
        return Logged(cursor=row.id, event=event)

    async def since(self, user_id: str, cursor: int, limit: int) -> Sequence[Logged]:
        mine = select(MemberRow.conversation_id).where(MemberRow.user_id == user_id)
        rows = await self._session.scalars(
            select(EventRow)
            .where(EventRow.id > cursor, EventRow.conversation_id.in_(mine))
            .order_by(EventRow.id)
            .limit(limit)
        )
        return [_logged(row) for row in rows]

    async def last_cursor(self) -> int:
        return int(await self._session.scalar(select(func.coalesce(func.max(EventRow.id), 0))) or 0)
