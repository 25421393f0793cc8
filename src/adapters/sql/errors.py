"""What a driver's error means for the ports: a lost connection, a lost race, or a bug."""

from __future__ import annotations

from advanced_alchemy.exceptions import RepositoryError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from domain.errors import Conflict, StorageUnavailable

# PostgreSQL's SQLSTATEs for a transaction that lost a race with another one (serialization
# failure, deadlock): the same request again is the remedy, as for a unique key taken meanwhile.
LOST_RACE_SQLSTATES = frozenset({"40001", "40P01"})


def _sqlstate(error: BaseException | None) -> str | None:
    original = getattr(error, "orig", None)  # the driver's own exception, under SQLAlchemy's
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state if isinstance(state, str) else None


# SQLite's primary result code for an error in the SQL itself (no such table or column, a syntax
# error), which sqlite3 raises as an OperationalError like a locked or unreadable file.
SQLITE_ERROR = 1


def _sql_itself_is_wrong(error: BaseException | None) -> bool:
    code = getattr(getattr(error, "orig", None), "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == SQLITE_ERROR


def translate(error: BaseException) -> None:
    """Re-raises what the port names: a lost connection is StorageUnavailable (503), a lost race
    (an integrity violation, a serialization failure, a deadlock) is Conflict (409). Anything
    else (a programming or data error, a bug) passes as it is: a 500 with an error id, logged
    with its traceback, never a 409 that would send a client into retrying a bug."""
    cause = error.__cause__ if isinstance(error, RepositoryError) else error
    if isinstance(cause, IntegrityError) or (_sqlstate(cause) or "") in LOST_RACE_SQLSTATES:
        raise Conflict("The change conflicts with another one made at the same time; try again.") from error
    if _sql_itself_is_wrong(cause):
        return
    if isinstance(cause, OperationalError | OSError | ConnectionError) or (
        isinstance(cause, DBAPIError) and cause.connection_invalidated
    ):
        raise StorageUnavailable("The database does not answer; try again shortly.") from error
