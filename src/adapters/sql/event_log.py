"""The event log over SQL: each event stored as msgspec JSON of its dataclass, under its type's name.

This is a storage format, not the wire format: the WebSocket endpoint renders logged events into
the contract's shapes. The cursor is the row's id, taken from the one-row `event_cursor` table
(`UPDATE ... RETURNING`), not from a sequence: PostgreSQL hands a sequence's numbers out at insert,
so a transaction that took 9 could commit after one that took 10, and a client resuming after 10
would never see 9. The counter's row stays locked until the transaction ends, so cursors follow
commit order and a rolled-back transaction's number goes to the next one (no gaps but those of a
deleted conversation's events). The price: transactions that log an event commit one after the
other; `append` is the last statement before each commit, so the lock is held for one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.models import EventCursorRow, EventRow, MemberRow
from application.events import Event, Logged, MediaAttached, MediaDeleted, MessageCreated, MessageDeleted
from application.ports.clock import Clock

EVENT_TYPES: dict[str, type[Event]] = {
    "message.created": MessageCreated,
    "media.attached": MediaAttached,
    "media.deleted": MediaDeleted,
    "message.deleted": MessageDeleted,
}
_NAME_OF = {kind: name for name, kind in EVENT_TYPES.items()}
COUNTER_ID = 1  # the id of event_cursor's only row
_NEXT_CURSOR = (
    update(EventCursorRow)
    .where(EventCursorRow.id == COUNTER_ID)
    .values(last=EventCursorRow.last + 1)
    .returning(EventCursorRow.last)
)


def _logged(row: EventRow) -> Logged:
    event: Event = msgspec.json.decode(row.payload, type=EVENT_TYPES[row.kind])
    return Logged(cursor=row.id, event=event)


class SqlEventLog:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def append(self, event: Event) -> Logged:
        cursor = await self._session.scalar(_NEXT_CURSOR)
        if cursor is None:
            raise RuntimeError("event_cursor has no row: the database is not migrated to head")
        row = EventRow(
            id=cursor,
            conversation_id=event.conversation_id,
            seq=event.seq,
            kind=_NAME_OF[type(event)],
            payload=msgspec.json.encode(event),
            created_at=self._clock.now(),
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

    async def between(self, after: int, upto: int) -> Sequence[tuple[Logged, frozenset[str]]]:
        rows = list(
            await self._session.scalars(
                select(EventRow).where(EventRow.id > after, EventRow.id <= upto).order_by(EventRow.id)
            )
        )
        members: dict[object, set[str]] = {}
        if rows:
            pairs = await self._session.execute(
                select(MemberRow.conversation_id, MemberRow.user_id).where(
                    MemberRow.conversation_id.in_({row.conversation_id for row in rows})
                )
            )
            for conversation_id, user_id in pairs:
                members.setdefault(conversation_id, set()).add(user_id)
        return [(_logged(row), frozenset(members.get(row.conversation_id, ()))) for row in rows]

    async def last_cursor(self) -> int:
        last = await self._session.scalar(select(EventCursorRow.last).where(EventCursorRow.id == COUNTER_ID))
        return int(last or 0)
