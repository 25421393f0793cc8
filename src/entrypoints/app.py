"""The composition root: `create_app(settings)` picks the adapters and wires the use cases.

Nothing is built at import time; `app_from_env()` is the factory the ASGI server calls.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import timedelta
from functools import partial

import anyio
from litestar import Litestar, Router, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from adapters import broadcast
from adapters.files.local import LocalFileStore
from adapters.files.partials import LocalPartialStore
from adapters.files.s3 import S3FileStore
from adapters.media_pillow import PillowImageProcessor
from adapters.media_workers import MediaWorkers
from adapters.memory import SystemClock
from adapters.metrics import SWEPT, TimedProcessor
from adapters.sniffing import FiletypeSniffer
from adapters.sql.access import attachment_access
from adapters.sql.database import check_database, create_engine, session_maker
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from adapters.tokens import JwtVerifier
from adapters.video_ffmpeg import FfmpegVideoProcessor
from application.ports.broadcaster import Broadcaster
from application.ports.files import FileStore
from application.sweep import SweepHandler, SweepReport
from domain.attachment import MediaKind
from domain.errors import StorageUnavailable
from entrypoints.di import build_use_cases, dependencies
from entrypoints.http.accel import AccelRedirect
from entrypoints.http.auth import MEDIA_URLS_STATE, bearer_auth
from entrypoints.http.conversations import ConversationController, MessageController
from entrypoints.http.errors import EXCEPTION_HANDLERS, error_response
from entrypoints.http.media import Downloads, MediaController
from entrypoints.http.observe import RequestLog, metrics_route, prometheus_middleware
from entrypoints.http.presigned import PresignedDownloads
from entrypoints.http.rate_limit import rate_limit_store, upload_rate_limit
from entrypoints.http.signed_urls import MediaUrlSigner
from entrypoints.http.tus import TusController
from entrypoints.http.web import is_built, web_client_routers
from entrypoints.logs import configure_logging
from entrypoints.server import die_with_parent
from entrypoints.settings import Settings, load_settings
from entrypoints.storage import file_store, running, sweep_leftovers
from entrypoints.ws import events_socket
from entrypoints.ws_events import render
from entrypoints.ws_hub import SocketHub

log = logging.getLogger(__name__)
RESUMABLE_DIR = ".resumable"  # under UPLOAD_DIR: the bytes of resumable uploads in progress
# The collector's thresholds (CPython's are 700, 10, 10). 1,000 open sockets are ~155,000 tracked
# objects; an event to all of them has ~1,000 frames in flight at any collection, which the default
# gen0 threshold promotes to the old generation by the thousand, so a full collection (90-190 ms,
# every socket and request of the process frozen meanwhile) came once every ~20 events. Young
# collections 30x rarer promote next to nothing: no full collection over the whole fan-out bench.
# Garbage without cycles is freed by reference counting as ever; cycles wait a little longer.
GC_THRESHOLDS = (20_000, 20, 20)
READY_TIMEOUT = 2.0  # seconds /health/ready waits for the database, the store and Redis, together


def create_app(
    settings: Settings,
    *,
    broadcaster: Broadcaster | None = None,
    files: FileStore | None = None,
) -> Litestar:
    """The service for these settings. `broadcaster` and `files` replace the configured adapters
    (tests pass recording or faulty ones; a replaced broadcaster leaves the sockets silent)."""
    if settings.jwt_secret is None and settings.jwt_public_key is None:
        raise ValueError("create_app needs JWT_SECRET or JWT_PUBLIC_KEY (the CLI makes one for development)")
    verifier = JwtVerifier(
        secret=settings.jwt_secret,
        public_key_pem=settings.jwt_public_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    # Without a configured key (tests, one process), one for this process alone: the CLI saves a
    # shared one for development, and production refuses to start without it (settings.py).
    signer = MediaUrlSigner(
        settings.media_url_secret or secrets.token_urlsafe(32),
        previous=settings.media_url_secret_previous,
        ttl=settings.media_url_ttl,
    )
    engine = create_engine(settings.database_url)
    store: FileStore = files if files is not None else file_store(settings)
    events = broadcast.channels_backend(settings.redis_url)
    workers = MediaWorkers(settings.media_workers)
    videos = FfmpegVideoProcessor(settings.policy, workers, timeout=settings.media_timeout)
    if not videos.available:
        log.warning("ffmpeg/ffprobe not found on PATH: videos get no poster, size or duration")
    uow = SqlUnitOfWorkFactory(session_maker(engine))
    # The downloads' access check, read apart from the units of work (adapters/sql/access.py).
    access = attachment_access(settings.database_url, uow)
    use_cases = build_use_cases(
        uow=uow,
        access=access,
        files=store,
        partials=LocalPartialStore(settings.upload_dir / RESUMABLE_DIR),
        sniffer=FiletypeSniffer(),
        broadcaster=broadcaster if broadcaster is not None else broadcast.ChannelsBroadcaster(events, render),
        policy=settings.policy,
        clock=SystemClock(),
        processors={
            MediaKind.IMAGE: TimedProcessor(PillowImageProcessor(settings.policy, workers), "image"),
            MediaKind.VIDEO: TimedProcessor(videos, "video"),
        },
        draft_ttl=timedelta(seconds=settings.draft_ttl),
        orphan_grace=timedelta(seconds=settings.orphan_grace),
        resumable_ttl=timedelta(seconds=settings.resumable_ttl),
    )
    hub = SocketHub(verifier=verifier, queries=use_cases.queries)
    downloads = Downloads(
        use_cases.serve_media,
        use_cases.serve_thumbnail,
        presigned=PresignedDownloads(store, settings.s3.presign_ttl)
        if settings.s3 is not None and settings.s3.presigned_downloads and isinstance(store, S3FileStore)
        else None,
        # nginx sends what lies under UPLOAD_DIR (settings refuse the prefix with S3); the check
        # then answers without opening the file, so the store must be the directory nginx reads.
        accel=AccelRedirect(settings.accel_redirect_prefix)
        if settings.accel_redirect_prefix and isinstance(store, LocalFileStore)
        else None,
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        hub.close_on_signal()
        # The store's client and start-up checks (a wrong bucket stops start-up here) live as long
        # as the service; an AsyncExitStack, so that no cancel scope spans the lifespan's yield.
        started = AsyncExitStack()
        await started.enter_async_context(running(store, settings))
        # Subscribed here, before the first request, so that every event committed from now on
        # reaches this process's sockets; the router is a task of its own, like the sweep.
        await started.enter_async_context(broadcast.running(events))
        subscribed = await broadcast.subscribe(events)
        routing = asyncio.create_task(hub.route(broadcast.deliveries(events, subscribed=subscribed)))
        leftovers = partial(sweep_leftovers, store, timedelta(seconds=settings.orphan_grace))
        # A task of its own, not a task group: a cancel scope must not span the lifespan's yield.
        sweeping = (
            asyncio.create_task(sweep_every(use_cases.sweep, settings.sweep_interval, leftovers))
            if settings.sweep_interval > 0
            else None
        )
        # What start-up built lives as long as the process: out of the collector's sight, a full
        # collection walks only what requests and sockets made (the fan-out bench saw 0.3-0.5 s
        # full collections under 1,000 sockets).
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            for task in (sweeping, routing):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
            await hub.close_all()
            await started.aclose()
            if access is not None:
                await access.close()
            await engine.dispose()

    async def ready() -> object:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await check_database(engine)
                await store.check()
                if settings.redis_url is not None:
                    await broadcast.check_redis(settings.redis_url, READY_TIMEOUT)
        except StorageUnavailable as exc:
            return error_response(503, str(exc))
        except TimeoutError:
            return error_response(
                503, f"The database, the file store or Redis took over {READY_TIMEOUT:g} s."
            )
        return {"status": "ok"}

    @get("/health", summary="Ready when the database, the file store and Redis answer", tags=["operations"])
    async def health() -> object:
        return await ready()

    @get(
        "/health/ready",
        summary="Ready when the database, the file store and Redis answer",
        tags=["operations"],
    )
    async def health_ready() -> object:
        return await ready()

    @get("/health/live", summary="The process answers (no dependency checked)", tags=["operations"])
    async def health_live() -> object:
        return {"status": "ok"}

    # The HTTP API behind its middleware; the WebSocket and the health check outside it: the
    # socket authenticates itself (4401), and a route with no middleware has no second exception
    # layer wrapped around each of its frames.
    api = Router(
        path="/",
        route_handlers=[ConversationController, MessageController, MediaController, TusController],
        middleware=[bearer_auth(verifier, signer), *upload_rate_limit(settings.upload_rate)],
    )
    # The web client's catch-all `/{file_path:path}` gets only what no API route holds: Litestar
    # tries whole plain paths, then walks segments without backtracking (/api/... misses stay the
    # API's JSON 404s). html_mode answers index.html for `/` alone, never for a miss.
    web = web_client_routers(settings.web_dir) if is_built(settings.web_dir) else []
    if not web:
        log.warning(
            "no web client in %s (WEB_DIR): `make web` builds it; serving the API alone", settings.web_dir
        )
    metrics = [metrics_route(settings.metrics_token)] if settings.metrics_token else []
    return Litestar(
        route_handlers=[health, health_ready, health_live, *metrics, api, events_socket, *web],
        middleware=[prometheus_middleware()],
        logging_config=None,  # entrypoints.logs configures the service's logging, JSON or text
        state=State({MEDIA_URLS_STATE: signer}),
        cors_config=cors_config(settings.cors_allow_origins),
        dependencies={
            **dependencies(use_cases),
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "hub": Provide(lambda: hub, use_cache=True, sync_to_thread=False),
            "downloads": Provide(lambda: downloads, use_cache=True, sync_to_thread=False),
        },
        stores={"rate_limit": rate_limit_store(settings.redis_url)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Chat media service",
            version="1.0.0",
            path="/schema",
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"BearerToken": []}],
        ),
    )


# What a web client on another origin sends beyond the CORS-safelisted headers, and what it reads
# of the answers: ranges and validators of downloads, tus's fields, the upload's results.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Range",
    "If-Range",
    "If-None-Match",
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Offset",
    "X-Request-ID",
)
CORS_EXPOSED_HEADERS = (
    "Content-Range",
    "Content-Length",
    "Content-Disposition",
    "ETag",
    "Location",
    "Retry-After",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "Upload-Attachment-Id",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "X-Request-ID",
)


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS for the configured origins alone; none configured, no CORS layer at all. No
    credentials: the API takes bearer tokens and signed URLs, never cookies."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=list(CORS_REQUEST_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=600,
    )


async def sweep_once(settings: Settings) -> SweepReport:
    """One sweep over the configured database and store, for `chat-media sweep`."""
    engine = create_engine(settings.database_url)
    store = file_store(settings)
    try:
        async with running(store, settings):
            await sweep_leftovers(store, timedelta(seconds=settings.orphan_grace))
            sweep = SweepHandler(
                SqlUnitOfWorkFactory(session_maker(engine)),
                store,
                SystemClock(),
                draft_ttl=timedelta(seconds=settings.draft_ttl),
                orphan_grace=timedelta(seconds=settings.orphan_grace),
                partials=LocalPartialStore(settings.upload_dir / RESUMABLE_DIR),
                upload_ttl=timedelta(seconds=settings.resumable_ttl),
            )
            return await sweep()
    finally:
        await engine.dispose()


async def sweep_every(
    sweep: SweepHandler, interval: float, leftovers: Callable[[], Awaitable[int]] | None = None
) -> None:
    """The periodic sweep, first at start-up (what a crash left): every instance runs it; removals
    are idempotent and the grace period keeps uploads in flight safe. `leftovers` first removes
    what failed or crashed uploads left in the store itself (S3's unfinished multipart uploads)."""
    while True:
        try:
            if leftovers is not None and (removed := await leftovers()):
                log.info("removed %d upload leftover(s) from the file store", removed)
            report = await sweep()
        except StorageUnavailable as exc:
            log.warning("the sweep could not run: %s", exc)
        except Exception:  # a bug in one sweep must not stop the next ones, nor the service
            log.exception("the sweep failed")
        else:
            SWEPT.labels("draft").inc(report.drafts)
            SWEPT.labels("orphan_file").inc(report.orphans)
            SWEPT.labels("resumable_upload").inc(report.uploads)
            if report.drafts or report.orphans or report.uploads:
                log.info(
                    "swept %d stale draft(s), %d orphan file(s) and %d expired resumable upload(s)",
                    report.drafts,
                    report.orphans,
                    report.uploads,
                )
        await anyio.sleep(interval)


def app_from_env() -> RequestLog:
    """The ASGI server's factory, called in each granian worker: settings from the environment (the
    CLI has filled in a dev secret), its logging, a log line per request; the worker stops when
    its parent is gone."""
    die_with_parent()
    settings = load_settings()
    configure_logging(settings.log_format)
    return RequestLog(create_app(settings))
