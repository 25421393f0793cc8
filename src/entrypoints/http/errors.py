"""One table from domain errors to status codes, and one JSON shape for every error answer:
`{"status_code": 4xx, "detail": "a sentence a person understands", "request_id": "..."}` (the id
the answer's X-Request-ID carries, and the log's lines of that request). Refusals of uploads,
storage failures and 500s are counted here, where every one of them is answered."""

from __future__ import annotations

import logging
import uuid

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from adapters.metrics import INTERNAL_ERRORS, REFUSALS, STORAGE_ERRORS
from domain.errors import (
    Conflict,
    FileTooLarge,
    Forbidden,
    Infected,
    InvalidInput,
    MalformedUpload,
    MediaError,
    NotFound,
    QuotaExceeded,
    ScannerUnavailable,
    StorageUnavailable,
    UnsupportedMediaType,
    UploadAborted,
)
from entrypoints.logs import request_id

log = logging.getLogger(__name__)

STATUS_OF: dict[type[MediaError], int] = {
    MalformedUpload: 400,
    Forbidden: 403,
    NotFound: 404,
    UploadAborted: 408,
    Conflict: 409,
    FileTooLarge: 413,
    QuotaExceeded: 413,
    UnsupportedMediaType: 415,
    InvalidInput: 422,
    Infected: 422,
    StorageUnavailable: 503,  # ScannerUnavailable among them
}


# Which refusal of an upload each error is, for the refusals metric.
REFUSAL_REASON: dict[type[MediaError], str] = {
    UnsupportedMediaType: "type",
    FileTooLarge: "size",
    QuotaExceeded: "quota",
    Infected: "scan",
}


def _body(status_code: int, detail: str, **more: object) -> dict[str, object]:
    body: dict[str, object] = {"status_code": status_code, "detail": detail, **more}
    if (rid := request_id.get()) is not None:
        body["request_id"] = rid
    return body


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> Response[dict[str, object]]:
    return Response(
        _body(status_code, detail),
        status_code=status_code,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _media_error(request: Request, exc: MediaError) -> Response[dict[str, object]]:  # type: ignore[type-arg]
    status = next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 500)
    reason = next((reason for kind, reason in REFUSAL_REASON.items() if isinstance(exc, kind)), None)
    if reason is not None:
        REFUSALS.labels(reason).inc()
    if isinstance(exc, StorageUnavailable):
        STORAGE_ERRORS.labels(_storage_source(exc)).inc()
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc, exc_info=exc.__cause__)
    # A closed connection after an early refusal tells the client to stop sending the rest.
    headers = {"Connection": "close"} if status in (408, 413, 415) else None
    return error_response(status, str(exc), headers)


DATABASE_MODULES = frozenset({"sqlalchemy", "advanced_alchemy", "asyncpg", "sqlite3", "aiosqlite"})


def _storage_source(exc: StorageUnavailable) -> str:
    """ "scanner" for the malware scanner, "database" when a database driver's error is under it,
    else "store" (disk, S3, Redis)."""
    if isinstance(exc, ScannerUnavailable):
        return "scanner"
    cause: BaseException | None = exc.__cause__
    while cause is not None:
        if type(cause).__module__.split(".")[0] in (
            "sqlalchemy",
            "advanced_alchemy",
            "asyncpg",
            "sqlite3",
            "aiosqlite",
        ):
            return "database"
        cause = cause.__cause__
    return "store"


def _validation_error(request: Request, exc: ValidationException) -> Response[dict[str, object]]:  # type: ignore[type-arg]
    problems = exc.extra if isinstance(exc.extra, list) else []
    messages = [p.get("message", "") for p in problems if isinstance(p, dict)]
    fields = [f"{p.get('key')}: {p.get('message')}" for p in problems if isinstance(p, dict) and p.get("key")]
    if any("malformed" in m.lower() for m in messages) or not fields:
        return error_response(400, "The request body is not valid JSON of the expected shape.")
    return error_response(422, "Invalid field: " + "; ".join(fields) + ".")


def _http_error(request: Request, exc: HTTPException) -> Response[dict[str, object]]:  # type: ignore[type-arg]
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if exc.status_code == 429:  # Litestar's rate limiter says when in RateLimit-Reset only
        REFUSALS.labels("rate").inc()
        headers.setdefault("Retry-After", headers.get("RateLimit-Reset", "60"))
        return error_response(429, "Too many uploads: try again in a little while.", headers)
    return error_response(exc.status_code, exc.detail, headers)


def _unexpected(request: Request, exc: Exception) -> Response[dict[str, object]]:  # type: ignore[type-arg]
    # The id joins what the client saw to the traceback in the log, and to nothing else.
    error_id = uuid.uuid4().hex[:12]
    INTERNAL_ERRORS.inc()
    log.error("%s %s failed (error id %s)", request.method, request.url.path, error_id, exc_info=exc)
    return Response(
        _body(
            500,
            f"Something went wrong on our side; it has been logged (error id {error_id}).",
            error_id=error_id,
        ),
        status_code=500,
        media_type=MediaType.JSON,
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    MediaError: _media_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
