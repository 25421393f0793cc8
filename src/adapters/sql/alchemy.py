"""advanced-alchemy's repository, as the SQL repositories use it: it does their plain work (get, add,
count, delete); the queries the chat needs beyond that are written in each repository."""

from __future__ import annotations

from typing import Any, TypeVar

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy.ext.asyncio import AsyncSession

AnyRows = TypeVar("AnyRows", bound=SQLAlchemyAsyncRepository[Any])


def rows_of(kind: type[AnyRows], session: AsyncSession) -> AnyRows:
    """advanced-alchemy's repository of `kind` as every repository here uses it. Each is built on
    first use, not with every unit of work (building the three took ~60 us of each request's unit
    of work, most of which never uses them). None reads a row back after adding it (auto_refresh):
    nothing here uses what it would read, and on SQLite that SELECT was ~1.5 ms of an upload's or a
    message's transaction."""
    return kind(session=session, auto_expunge=False, auto_refresh=False)
