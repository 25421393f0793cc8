"""DATABASE_CONNECTIONS on PostgreSQL: `serve` says at start when the workers' budgets together
pass what the server allows (the budget's split is tested in tests/unit/test_settings.py)."""

from __future__ import annotations

import pytest

from adapters.sql.database import connection_room, create_engine
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
