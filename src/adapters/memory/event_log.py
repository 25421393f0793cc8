"""The in-memory event log: the events of a `MemoryDatabase`, their cursor their position."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.memory.database import MemoryDatabase
from application.events import Event, Logged


class InMemoryEventLog:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def append(self, event: Event) -> Logged:
        logged = Logged(cursor=len(self._db.events) + 1, event=event)
        self._db.events.append(logged)
        return logged

    async def since(self, user_id: str, cursor: int, limit: int) -> Sequence[Logged]:
        mine = {c.id for c in self._db.conversations.values() if user_id in c.member_ids}
        return [e for e in self._db.events[cursor:] if e.event.conversation_id in mine][:limit]

    async def between(self, after: int, upto: int) -> Sequence[tuple[Logged, frozenset[str]]]:
        conversations = self._db.conversations
        return [
            (e, frozenset(conversations[e.event.conversation_id].member_ids))
            for e in self._db.events[after:upto]
            if e.event.conversation_id in conversations
        ]

    async def last_cursor(self) -> int:
        return len(self._db.events)
