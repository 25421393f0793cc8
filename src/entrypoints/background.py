"""The service's background work: the periodic sweep, in every instance, and the one-off sweep of
`chat-media sweep`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio

from adapters.clock import SystemClock
from adapters.files.partials import LocalPartialStore
from adapters.metrics import SWEPT
from adapters.sql.database import ConnectionBudget, create_engine, session_maker
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from application.sweep import SweepHandler, SweepReport
from domain.errors import StorageUnavailable
from entrypoints.settings import Settings
from entrypoints.storage import storage_for

log = logging.getLogger(__name__)
RESUMABLE_DIR = ".resumable"  # under UPLOAD_DIR: the bytes of resumable uploads in progress


def partial_store(settings: Settings) -> LocalPartialStore:
    return LocalPartialStore(settings.upload_dir / RESUMABLE_DIR)


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
            _log_report(report)
        await anyio.sleep(interval)


async def sweep_once(settings: Settings) -> SweepReport:
    """One sweep over the configured database and store, for `chat-media sweep`. Files stored
    unscanned are the service's sweep's to scan again: it can tell the members of what it removes."""
    engine = create_engine(settings.database_url, ConnectionBudget(settings.database_connections))
    clock = SystemClock()
    storage = storage_for(settings, clock)
    try:
        async with storage.running():
            await storage.leftovers(timedelta(seconds=settings.orphan_grace))
            sweep = SweepHandler(
                SqlUnitOfWorkFactory(session_maker(engine), clock),
                storage.files,
                clock,
                draft_ttl=timedelta(seconds=settings.draft_ttl),
                orphan_grace=timedelta(seconds=settings.orphan_grace),
                partials=partial_store(settings),
                upload_ttl=timedelta(seconds=settings.resumable_ttl),
            )
            return await sweep()
    finally:
        await engine.dispose()


def _log_report(report: SweepReport) -> None:
    SWEPT.labels("draft").inc(report.drafts)
    SWEPT.labels("orphan_file").inc(report.orphans)
    SWEPT.labels("resumable_upload").inc(report.uploads)
    SWEPT.labels("infected").inc(report.infected)
    if report.scanned or report.infected:
        log.info(
            "scanned %d file(s) stored unscanned: %d clean, %d infected and removed",
            report.scanned + report.infected,
            report.scanned,
            report.infected,
        )
    if report.drafts or report.orphans or report.uploads:
        log.info(
            "swept %d stale draft(s), %d orphan file(s) and %d expired resumable upload(s)",
            report.drafts,
            report.orphans,
            report.uploads,
        )
