"""The engine for DATABASE_URL (SQLite or PostgreSQL), its sessions, its health check, and the
migrations that build its tables (alembic, from `migrations/` at the repository root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from domain.errors import StorageUnavailable

REPO_ROOT = Path(__file__).resolve().parents[3]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
SQLITE_BUSY_TIMEOUT_MS = 10_000
DEFAULT_CONNECTIONS = 40  # a process's PostgreSQL connections (DATABASE_CONNECTIONS)


@dataclass(frozen=True, slots=True)
class ConnectionBudget:
    """How one process's PostgreSQL connections are shared: half kept open for the reads outside
    transactions (`AutocommitReader`), a quarter kept by the units of work and a quarter they may
    open past it under a burst. Nothing is opened beyond `total`, so `workers x total` is what a
    service asks of the server (whose default max_connections is 100)."""

    total: int = DEFAULT_CONNECTIONS

    @property
    def units_of_work(self) -> int:
        return max(1, self.total // 4)

    @property
    def units_of_work_overflow(self) -> int:
        return max(1, self.total // 4)

    @property
    def reads(self) -> int:
        return max(1, self.total - self.units_of_work - self.units_of_work_overflow)


def _sqlite_pragmas(dbapi_connection: Any, _: object) -> None:
    # Foreign keys are off by default in SQLite: without this, ON DELETE CASCADE does nothing.
    # WAL lets readers go on while one writer commits; busy_timeout makes writers wait their turn.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def create_engine(url: str, budget: ConnectionBudget | None = None) -> AsyncEngine:
    if url.startswith("sqlite"):
        # No reset on return: every unit of work ends its transaction itself (Session.close rolls
        # back what was not committed), and with aiosqlite each extra ROLLBACK is a round trip to
        # the connection's thread, one in ten of a two-query request.
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_reset_on_return=None
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    budget = budget or ConnectionBudget()
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=budget.units_of_work,
        max_overflow=budget.units_of_work_overflow,
    )


async def connection_room(engine: AsyncEngine) -> int | None:
    """How many connections a PostgreSQL server lets ordinary roles open in all (max_connections
    less the superusers' reserve); None for SQLite, or when it cannot be read."""
    if engine.dialect.name != "postgresql":
        return None
    try:
        async with engine.connect() as connection:
            allowed = await connection.scalar(text("SHOW max_connections"))
            reserved = await connection.scalar(text("SHOW superuser_reserved_connections"))
    except (SQLAlchemyError, OSError):
        return None
    return int(allowed) - int(reserved)


def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


async def check_database(engine: AsyncEngine) -> None:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise StorageUnavailable("The database does not answer.") from exc


def alembic_config(url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    """Applies every pending migration (synchronously: call it before the event loop starts)."""
    if url.startswith("sqlite"):
        database = url.split(":///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


def downgrade_to_base(url: str) -> None:
    command.downgrade(alembic_config(url), "base")
