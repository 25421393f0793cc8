"""What taking event cursors in commit order costs: transactions that log an event, committed as
fast as 1 and 32 concurrent writers can, on PostgreSQL (and SQLite), with the cursor from the
one-row counter (today's `SqlEventLog`) beside the table's sequence (the log before it, which let
a replay skip an event that committed late). Rounds alternate between the two.

Each transaction is the tail every event-producing use case ends with: advance the conversation's
`seq`, append the event, commit; each writer has a conversation of its own, so the counter is the
only row they share.

`make bench-events` runs it; it prints the table and writes bench/results/event_commits.json."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from adapters.sql.database import create_engine, session_maker, upgrade_to_head
from adapters.sql.event_log import _NAME_OF, SqlEventLog
from adapters.sql.models import EventRow
from adapters.sql.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from application.events import Event, Logged, MessageDeleted
from bench import postgres
from bench.report import RESULTS
from domain.conversation import ConversationKind, new_conversation

ROUNDS = 5
SECONDS = 3.0  # per side and round
WRITERS = (1, 32)
OUT = RESULTS.parent / "event_commits.json"


class SequenceEventLog(SqlEventLog):
    """The log as it was: the row's id from the table's sequence, handed out at insert."""

    async def append(self, event: Event) -> Logged:
        row = EventRow(
            conversation_id=event.conversation_id,
            seq=event.seq,
            kind=_NAME_OF[type(event)],
            payload=b"{}",
            created_at=datetime.now(UTC),
        )
        self._session.add(row)
        await self._session.flush()
        return Logged(cursor=row.id, event=event)


class SequenceUnitOfWork(SqlUnitOfWork):
    async def __aenter__(self) -> SqlUnitOfWork:
        await super().__aenter__()
        assert self._session is not None
        self.events = SequenceEventLog(self._session)
        return self


async def _commits_per_second(url: str, writers: int, *, sequence: bool) -> float:
    engine = create_engine(url)
    sessions = session_maker(engine)
    uow: Callable[[], SqlUnitOfWork] = (
        (lambda: SequenceUnitOfWork(sessions)) if sequence else SqlUnitOfWorkFactory(sessions)
    )
    async with engine.begin() as connection:  # each side goes on from where the other left the log
        if sequence and engine.dialect.name == "postgresql":
            await connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('conversation_events', 'id'), last) "
                    "FROM event_cursor WHERE last > 0"
                )
            )
        await connection.execute(
            text("UPDATE event_cursor SET last = (SELECT COALESCE(MAX(id), 0) FROM conversation_events)")
        )
    now = datetime.now(UTC)
    conversations = [
        new_conversation(creator_id=f"w{i}", kind=ConversationKind.GROUP, title="b", member_ids=[], now=now)
        for i in range(writers)
    ]
    async with uow() as tx:
        for conversation in conversations:
            await tx.conversations.add(conversation)
        await tx.commit()
    done = 0
    deadline = time.monotonic() + SECONDS

    async def writer(conversation_id: uuid.UUID) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with uow() as tx:
                seq = await tx.conversations.advance(conversation_id, now)
                await tx.events.append(
                    MessageDeleted(conversation_id=conversation_id, seq=seq, message_id=uuid.uuid4())
                )
                await tx.commit()
            done += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(writer(c.id) for c in conversations))
    finally:
        await engine.dispose()
    return done / (time.monotonic() - started)


@contextmanager
def _databases() -> Iterator[list[tuple[str, str]]]:
    with tempfile.TemporaryDirectory() as folder:
        found = [("SQLite", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")]
        why = postgres.unavailable()
        if why is not None:
            print(f"PostgreSQL left out: {why}", file=sys.stderr)
            yield found
            return
        with postgres.fresh_database() as url:
            yield [*found, ("PostgreSQL", url)]


def main() -> None:
    results: dict[str, dict[str, list[float]]] = {}
    with _databases() as databases:
        for name, url in databases:
            upgrade_to_head(url)
            for writers in WRITERS:
                key = f"{name}, {writers} writer{'s' if writers > 1 else ''}"
                runs: dict[str, list[float]] = {"counter": [], "sequence": []}
                for _ in range(ROUNDS):  # in turns, so that drift of the machine hits both
                    for side in runs:
                        runs[side].append(
                            asyncio.run(_commits_per_second(url, writers, sequence=side == "sequence"))
                        )
                results[key] = runs
    print(f"\nEvent-logging commits per second, {ROUNDS} rounds of {SECONDS:g} s each side, in turns")
    print(f"{'':28} {'counter (commit order)':>26} {'sequence (before)':>26} {'ratio':>7}")
    for key, runs in results.items():
        cells = []
        for side in ("counter", "sequence"):
            values = runs[side]
            cells.append(f"{statistics.median(values):8.0f} ({min(values):.0f}-{max(values):.0f})")
        ratio = statistics.median(runs["counter"]) / statistics.median(runs["sequence"])
        print(f"{key:28} {cells[0]:>26} {cells[1]:>26} {ratio:6.2f}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(f"\nJSON: {OUT}")


if __name__ == "__main__":
    main()
