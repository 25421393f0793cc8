"""What a database error becomes, from real drivers' errors (SQLite, and PostgreSQL where it
answers): a lost race is a Conflict (409), a database that does not answer is StorageUnavailable
(503), and anything else — a programming or a data error — stays itself, which the HTTP layer
answers 500 with an error id (never a 409 that would send a client into retrying a bug)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, ProgrammingError, SQLAlchemyError

from adapters.sql.database import create_engine, session_maker
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from domain.errors import Conflict, StorageUnavailable

SCRATCH = "CREATE TABLE scratch (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"


async def raised(url: str, *statements: str) -> SQLAlchemyError:
    """The error the driver gives for the last of `statements`, through SQLAlchemy."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements[:-1]:
                await connection.execute(text(statement))
            try:
                await connection.execute(text(statements[-1]))
            except SQLAlchemyError as exc:
                return exc
    finally:
        await engine.dispose()
    raise AssertionError(f"{statements[-1]!r} raised nothing")


async def through_unit_of_work(url: str, error: BaseException) -> BaseException:
    """What leaves a unit of work's block that `error` left."""
    engine = create_engine(url)
    try:
        async with SqlUnitOfWorkFactory(session_maker(engine))():
            raise error
    except BaseException as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("the block swallowed the error")


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_url
    else:
        yield request.getfixturevalue("postgres_url")


async def test_a_taken_unique_key_is_a_conflict(url: str) -> None:
    error = await raised(
        url,
        "DROP TABLE IF EXISTS scratch",
        SCRATCH,
        "INSERT INTO scratch VALUES (1, 1)",
        "INSERT INTO scratch VALUES (1, 2)",
    )
    out = await through_unit_of_work(url, error)
    assert isinstance(out, Conflict)
    assert out.__cause__ is error


async def test_a_missing_table_or_bad_sql_is_not_a_conflict_nor_an_outage(url: str) -> None:
    for statement in ("SELECT * FROM no_such_table", "SELEKT 1", "SELECT no_such_column FROM scratch"):
        error = await raised(url, "DROP TABLE IF EXISTS scratch", SCRATCH, statement)
        out = await through_unit_of_work(url, error)
        assert out is error, (statement, type(out), out)


async def test_a_value_the_column_cannot_hold_is_not_a_conflict(postgres_url: str) -> None:
    error = await raised(postgres_url, "SELECT CAST('not a number' AS INTEGER)")
    assert isinstance(error, DBAPIError)
    assert await through_unit_of_work(postgres_url, error) is error


async def test_a_not_null_violation_is_a_conflict_only_as_integrity(url: str) -> None:
    # NOT NULL is an integrity constraint: the row could not be written as it stands, which in
    # this service only ever happens when another change removed what it pointed at.
    error = await raised(url, "DROP TABLE IF EXISTS scratch", SCRATCH, "INSERT INTO scratch VALUES (1, NULL)")
    assert isinstance(await through_unit_of_work(url, error), Conflict)


async def test_a_serialization_failure_is_a_conflict(postgres_url: str) -> None:
    """Two serializable transactions that each read what the other writes: one of them loses."""
    setup = create_engine(postgres_url)
    async with setup.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS scratch"))
        await connection.execute(text(SCRATCH))
        await connection.execute(text("INSERT INTO scratch VALUES (1, 0), (2, 0)"))
    await setup.dispose()
    engines = [
        create_engine(postgres_url).execution_options(isolation_level="SERIALIZABLE") for _ in range(2)
    ]
    connections = [await engine.connect() for engine in engines]
    try:
        for connection in connections:
            await connection.begin()
        await connections[0].execute(text("SELECT sum(n) FROM scratch"))
        await connections[1].execute(text("SELECT sum(n) FROM scratch"))
        await connections[0].execute(text("UPDATE scratch SET n = 1 WHERE id = 1"))
        await connections[1].execute(text("UPDATE scratch SET n = 1 WHERE id = 2"))
        await connections[0].commit()
        with pytest.raises(DBAPIError) as lost:
            await connections[1].commit()
    finally:
        for connection in connections:
            await connection.close()
        for engine in engines:
            await engine.dispose()
    assert isinstance(await through_unit_of_work(postgres_url, lost.value), Conflict)


async def test_a_database_that_does_not_answer_is_storage_unavailable(tmp_path: object) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1
    engine = create_engine(url)
    try:
        with pytest.raises((SQLAlchemyError, OSError)) as refused:
            async with asyncio.timeout(10), engine.connect():
                pass
    finally:
        await engine.dispose()
    out = await through_unit_of_work("sqlite+aiosqlite://", refused.value)
    assert isinstance(out, StorageUnavailable)


@pytest.mark.parametrize("kind", [ProgrammingError, DataError])
async def test_driver_error_classes_that_are_bugs_pass_as_themselves(
    kind: type[DBAPIError], sqlite_url: str
) -> None:
    error = kind("SELECT 1", {}, Exception("made up"))
    assert await through_unit_of_work(sqlite_url, error) is error


def test_an_unexpected_error_is_a_500_whose_id_leads_to_the_traceback() -> None:
    import logging

    from litestar import get
    from litestar.testing import create_test_client

    from entrypoints.http.errors import EXCEPTION_HANDLERS

    @get("/boom")
    async def boom() -> None:
        raise ProgrammingError("SELECT broken", {}, Exception("column q does not exist"))

    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    errors_log = logging.getLogger("entrypoints.http.errors")
    errors_log.addHandler(handler)
    try:
        with create_test_client([boom], exception_handlers=EXCEPTION_HANDLERS) as client:
            answer = client.get("/boom")
    finally:
        errors_log.removeHandler(handler)
    assert answer.status_code == 500
    body = answer.json()
    assert body["error_id"] in body["detail"]
    (record,) = [r for r in records if body["error_id"] in r.getMessage()]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ProgrammingError)
    assert "column q" not in answer.text  # the client learns nothing of the SQL
