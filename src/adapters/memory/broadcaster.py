"""The recording broadcaster: it keeps what it publishes instead of sending it anywhere."""

from __future__ import annotations

from application.events import Event, Logged


class RecordingBroadcaster:
    """Keeps every published event in order, with whom it was for: for tests, and for a single
    process without sockets."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.deliveries: list[tuple[Logged, frozenset[str]]] = []

    async def publish(self, logged: Logged, audience: frozenset[str]) -> None:
        self.events.append(logged.event)
        self.deliveries.append((logged, audience))
