"""The composition root: `create_app(settings)` picks the adapters by settings and wires the use
cases, the routes and what runs while the service is up. It only composes: the store's wiring is
`storage`, the background work `background`, the health routes `http.health`, the collector's
tuning `gc_tuning`.

Nothing is built at import time; `app_from_env()` is the factory the ASGI server calls.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import timedelta
from functools import partial

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from adapters import broadcast
from adapters.clock import SystemClock
from adapters.media_pillow import PillowImageProcessor
from adapters.media_workers import MediaWorkers
from adapters.metrics import TimedProcessor
from adapters.sniffing import FiletypeSniffer
from adapters.sql.database import ConnectionBudget, check_database, create_engine, session_maker
from adapters.sql.reader import reader_for
from adapters.sql.reading import SqlReading
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from adapters.tokens import JwtVerifier
from adapters.video_ffmpeg import FfmpegVideoProcessor
from application.ports.broadcaster import Broadcaster
from application.ports.files import FileStore
from domain.attachment import MediaKind
from entrypoints.background import partial_store, sweep_every
from entrypoints.di import build_use_cases, dependencies
from entrypoints.gc_tuning import tune_collector
from entrypoints.http.accel import AccelRedirect
from entrypoints.http.auth import MEDIA_URLS_STATE, bearer_auth
from entrypoints.http.conversations import ConversationController, MessageController
from entrypoints.http.cors import cors_config
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.health import READY_TIMEOUT, health_routes
from entrypoints.http.media import Downloads, MediaController
from entrypoints.http.observe import RequestLog, RequestMetrics, metrics_route
from entrypoints.http.presigned import PresignedDownloads
from entrypoints.http.rate_limit import rate_limit_store, upload_rate_limit
from entrypoints.http.signed_urls import MediaUrlSigner
from entrypoints.http.tus import TusController
from entrypoints.http.web import is_built, web_client_routers
from entrypoints.logs import configure_logging
from entrypoints.scanning import scanning_for
from entrypoints.server import die_with_parent
from entrypoints.settings import Settings, load_settings
from entrypoints.storage import given_storage, storage_for
from entrypoints.ws import KeepServerSend, events_socket
from entrypoints.ws_events import render
from entrypoints.ws_hub import SocketHub

log = logging.getLogger(__name__)


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
    clock = SystemClock()
    budget = ConnectionBudget(settings.database_connections)
    engine = create_engine(settings.database_url, budget)
    storage = given_storage(files) if files is not None else storage_for(settings, clock)
    events = broadcast.channels_backend(settings.redis_url)
    workers = MediaWorkers(settings.media_workers)
    videos = FfmpegVideoProcessor(
        settings.policy,
        workers,
        timeout=settings.media_timeout,
        local_path=storage.local_path,
        adopt_written=storage.adopt_written,
    )
    if not videos.available:
        log.warning("ffmpeg/ffprobe not found on PATH: videos get no poster, size or duration")
    uow = SqlUnitOfWorkFactory(session_maker(engine), clock)
    # The reads that change nothing (lists, pages, the downloads' access check), in no transaction.
    reads = SqlReading(reader_for(settings.database_url, engine, budget.reads))
    use_cases = build_use_cases(
        uow=uow,
        reads=reads,
        files=storage.files,
        partials=partial_store(settings),
        sniffer=FiletypeSniffer(),
        broadcaster=broadcaster if broadcaster is not None else broadcast.ChannelsBroadcaster(events, render),
        policy=settings.policy,
        clock=clock,
        processors={
            MediaKind.IMAGE: TimedProcessor(PillowImageProcessor(settings.policy, workers), "image"),
            MediaKind.VIDEO: TimedProcessor(videos, "video"),
        },
        draft_ttl=timedelta(seconds=settings.draft_ttl),
        orphan_grace=timedelta(seconds=settings.orphan_grace),
        resumable_ttl=timedelta(seconds=settings.resumable_ttl),
        scanning=scanning_for(settings.scan),
    )
    hub = SocketHub(verifier=verifier, queries=use_cases.queries)
    downloads = Downloads(
        use_cases.serve_media,
        use_cases.serve_thumbnail,
        use_cases.serve_preview,
        presigned=PresignedDownloads(*storage.presigned) if storage.presigned is not None else None,
        # nginx sends what lies under UPLOAD_DIR (settings refuse the prefix with S3); the check
        # then answers without opening the file, so the store must be the directory nginx reads.
        accel=AccelRedirect(settings.accel_redirect_prefix)
        if settings.accel_redirect_prefix and storage.on_local_disk
        else None,
        local_path=storage.local_path,
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        hub.close_on_signal()
        # The store's client and start-up checks (a wrong bucket stops start-up here) live as long
        # as the service; an AsyncExitStack, so that no cancel scope spans the lifespan's yield.
        started = AsyncExitStack()
        await started.enter_async_context(storage.running())
        # Subscribed here, before the first request, so that every event committed from now on
        # reaches this process's sockets; the router is a task of its own, like the sweep.
        await started.enter_async_context(broadcast.running(events))
        subscribed = await broadcast.subscribe(events)
        routing = asyncio.create_task(hub.route(broadcast.deliveries(events, subscribed=subscribed)))
        leftovers = partial(storage.leftovers, timedelta(seconds=settings.orphan_grace))
        # A task of its own, not a task group: a cancel scope must not span the lifespan's yield.
        sweeping = (
            asyncio.create_task(sweep_every(use_cases.sweep, settings.sweep_interval, leftovers))
            if settings.sweep_interval > 0
            else None
        )
        tune_collector()
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
            await reads.close()
            await engine.dispose()

    async def redis_answers() -> None:
        if settings.redis_url is not None:
            await broadcast.check_redis(settings.redis_url, READY_TIMEOUT)

    health = health_routes([partial(check_database, engine), storage.files.check, redis_answers])
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
        route_handlers=[*health, *metrics, api, events_socket, *web],
        middleware=[RequestMetrics],
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


def app_from_env() -> RequestLog:
    """The ASGI server's factory, called in each granian worker: settings from the environment (the
    CLI has filled in a dev secret), its logging, a log line per request; the worker stops when
    its parent is gone."""
    die_with_parent()
    settings = load_settings()
    configure_logging(settings.log_format)
    return RequestLog(KeepServerSend(create_app(settings)))
