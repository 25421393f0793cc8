"""DATABASE_CONNECTIONS on PostgreSQL: a burst of reads or of units of work opens no more than its
share of the budget (counted in pg_stat_activity while slow statements run), and `serve` says at
start when the workers' budgets together pass what the server allows (the budget's split is tested
in tests/unit/test_settings.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable

import anyio
import pytest
from sqlalchemy import func, literal_column, select, text

from adapters.sql.database import ConnectionBudget, connection_room, create_engine
from adapters.sql.reader import reader_for
from entrypoints.cli import _warn_if_connections_short
from entrypoints.settings import Settings


async def test_serve_warns_when_the_workers_may_open_more_than_the_server_allows(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(postgres_url)
    try:
        room = await connection_room(engine)
    finally:
        await engine.dispose()
    assert room is not None
    assert room > 4
    settings = Settings(database_url=postgres_url, database_connections=room // 2 + 1)
    await _warn_if_connections_short(settings, workers=1)
    assert capsys.readouterr().err == ""
    await _warn_if_connections_short(settings, workers=2)
    warning = capsys.readouterr().err
    assert f"may open {2 * (room // 2 + 1)} connections" in warning
    assert "DATABASE_CONNECTIONS" in warning


async def test_sqlite_has_no_connection_room(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    await _warn_if_connections_short(Settings(database_url=sqlite_url), workers=64)
    assert capsys.readouterr().err == ""


async def _most_at_once(postgres_url: str, marker: str, busy: Awaitable[object]) -> int:
    """The most backends seen running a statement that names `marker` while `busy` runs."""
    watcher = create_engine(postgres_url)
    most = 0
    try:
        # In autocommit: inside one transaction pg_stat_activity stays the snapshot first read.
        async with watcher.connect() as plain:
            connection = await plain.execution_options(isolation_level="AUTOCOMMIT")
            task = asyncio.ensure_future(busy)
            with anyio.fail_after(30):
                while not task.done():
                    seen = await connection.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE query LIKE :pattern AND pid <> pg_backend_pid()"
                        ),
                        {"pattern": f"%{marker}%"},
                    )
                    most = max(most, int(seen or 0))
                    await asyncio.sleep(0.02)
            await task  # its failure is the test's
    finally:
        await watcher.dispose()
    return most


async def test_a_burst_of_reads_never_opens_more_than_the_reads_share(postgres_url: str) -> None:
    budget = ConnectionBudget(8)
    engine = create_engine(postgres_url, budget)
    reader = reader_for(postgres_url, engine, budget.reads)
    marker = f"budget_reads_{uuid.uuid4().hex}"
    slow = select(func.pg_sleep(0.2), literal_column(f"'{marker}'"))
    burst = 3 * budget.reads
    try:

        async def reads() -> list[object]:
            return await asyncio.gather(*(reader.rows(slow, {}) for _ in range(burst)))

        most = await _most_at_once(postgres_url, marker, reads())
    finally:
        await reader.close()
        await engine.dispose()
    # Overlap happened (so more would have shown), and never past the share: the rest waited.
    assert 1 < most <= budget.reads


async def test_a_burst_of_units_of_work_never_opens_more_than_their_share(postgres_url: str) -> None:
    budget = ConnectionBudget(8)
    engine = create_engine(postgres_url, budget)
    marker = f"budget_units_{uuid.uuid4().hex}"
    slow = select(func.pg_sleep(0.2), literal_column(f"'{marker}'"))
    share = budget.units_of_work + budget.units_of_work_overflow
    try:

        async def transaction() -> None:
            async with engine.begin() as connection:
                await connection.execute(slow)

        async def units() -> None:
            await asyncio.gather(*(transaction() for _ in range(3 * share)))

        most = await _most_at_once(postgres_url, marker, units())
    finally:
        await engine.dispose()
    assert 1 < most <= share
