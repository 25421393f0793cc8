"""PostgreSQL and Redis on loopback for the benchmarks: whether they answer, and a database of the
run's own, dropped afterwards."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def unavailable(*, redis: bool = False) -> str | None:
    """Why PostgreSQL (and Redis, when asked) cannot serve the bench, or None."""
    if not reachable(PG_HOST, PG_PORT):
        return f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT}"
    if redis and not reachable(REDIS_HOST, REDIS_PORT):
        return f"Redis does not answer on {REDIS_HOST}:{REDIS_PORT}"
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL refuses the bench ({type(exc).__name__}: {exc})"
    return None


@contextmanager
def fresh_database() -> Iterator[str]:
    """The DATABASE_URL of an empty database of this run's own, dropped when the block ends."""
    name = f"chat_media_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
