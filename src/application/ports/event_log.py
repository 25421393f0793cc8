"""The log of what changed, for clients that reconnect and ask what they missed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from application.events import Event, Logged


class EventLog(Protocol):
    """The events, written in the transaction of the change they announce (so an event is logged
    if and only if its change is committed), for clients that reconnect and ask what they missed."""

    async def append(self, event: Event) -> Logged: ...

    async def since(self, user_id: str, cursor: int, limit: int) -> Sequence[Logged]:
        """At most `limit` events after `cursor`, in cursor order, of the conversations the user is
        a member of now."""
        ...

    async def between(self, after: int, upto: int) -> Sequence[tuple[Logged, frozenset[str]]]:
        """The events with a cursor in (`after`, `upto`], in cursor order, each with the members of
        its conversation now: what a process missed hearing, to hand to its sockets."""
        ...

    async def last_cursor(self) -> int:
        """The newest cursor (0 when the log is empty): where a client that has seen nothing starts.
        Cursors follow commit order: once a cursor is readable, every lower one is too."""
        ...
