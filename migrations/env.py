"""Alembic's entry: the models' metadata, and DATABASE_URL (or the URL the caller handed over)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from adapters.sql.database import create_engine
from adapters.sql.models import metadata
from entrypoints.settings import DEFAULT_DATABASE_URL

config = context.config
target_metadata = metadata


def _url() -> str:
    given = config.attributes.get("database_url")
    return str(given) if given else os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Instances starting together take turns: the first migrates, the others find it done.
            connection.execute(text("SELECT pg_advisory_xact_lock(7243916041)"))
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_online())
    else:  # called from async code (a test, a lifespan): migrate on a loop of its own
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, _run_online()).result()
