"""Telling the members of a conversation, after the commit."""

from __future__ import annotations

from typing import Protocol

from application.events import Logged


class Broadcaster(Protocol):
    """Delivers a logged event to the users in `audience` (the conversation's members when the
    change committed). Called only after the commit; it never raises: a failure to deliver never
    undoes the change (clients catch up from the event log or by listing)."""

    async def publish(self, logged: Logged, audience: frozenset[str]) -> None: ...
