"""The use cases, built once from the chosen adapters and handed to handlers by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta

from litestar.di import Provide

from adapters.metrics import count_stored
from application.access import ReadingAccess
from application.conversations import AddMembersHandler, RemoveMemberHandler, StartConversationHandler
from application.delete_media import DeleteMediaHandler
from application.intake import Intake
from application.messages import DeleteMessageHandler, PostMessageHandler
from application.ports.broadcaster import Broadcaster
from application.ports.clock import Clock
from application.ports.files import FileStore
from application.ports.media import ContentSniffer, MediaProcessor
from application.ports.partials import PartialStore
from application.ports.unit_of_work import ReadingFactory, UnitOfWorkFactory
from application.queries import ChatQueries
from application.resumable import ResumableUploads
from application.scanning import Scanning
from application.serve_media import ServeMediaHandler, ServeRenditionHandler
from application.sweep import SweepHandler
from application.upload_media import UploadMedia
from domain.attachment import MediaKind, Rendition
from domain.policy import MediaPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class UseCases:
    start_conversation: StartConversationHandler
    add_members: AddMembersHandler
    remove_member: RemoveMemberHandler
    post_message: PostMessageHandler
    delete_message: DeleteMessageHandler
    upload_media: UploadMedia
    serve_media: ServeMediaHandler
    serve_thumbnail: ServeRenditionHandler
    serve_preview: ServeRenditionHandler
    delete_media: DeleteMediaHandler
    queries: ChatQueries
    sweep: SweepHandler
    resumable_uploads: ResumableUploads


def build_use_cases(
    *,
    uow: UnitOfWorkFactory,
    files: FileStore,
    partials: PartialStore,
    sniffer: ContentSniffer,
    broadcaster: Broadcaster,
    policy: MediaPolicy,
    clock: Clock,
    processors: Mapping[MediaKind, MediaProcessor],
    draft_ttl: timedelta = timedelta(days=1),
    orphan_grace: timedelta = timedelta(hours=1),
    resumable_ttl: timedelta = timedelta(days=1),
    reads: ReadingFactory | None = None,
    scanning: Scanning | None = None,
) -> UseCases:
    """`reads`: the reads that change nothing (lists, pages, the downloads' access checks); by
    default each in a unit of work of its own.
    `scanning`: every upload is scanned for malware, and the sweep scans what an outage let in."""
    reads = reads if reads is not None else uow
    access = ReadingAccess(reads)
    upload_media = UploadMedia(
        uow,
        files,
        Intake(policy, sniffer),
        broadcaster,
        policy,
        clock,
        processors,
        stored=count_stored,
        scanning=scanning,
    )
    delete_media = DeleteMediaHandler(uow, files, broadcaster, clock)
    return UseCases(
        start_conversation=StartConversationHandler(uow, clock),
        add_members=AddMembersHandler(uow),
        remove_member=RemoveMemberHandler(uow),
        post_message=PostMessageHandler(uow, broadcaster, clock),
        delete_message=DeleteMessageHandler(uow, files, broadcaster, clock),
        upload_media=upload_media,
        serve_media=ServeMediaHandler(access, files),
        serve_thumbnail=ServeRenditionHandler(access, files, Rendition.THUMBNAIL),
        serve_preview=ServeRenditionHandler(access, files, Rendition.PREVIEW),
        delete_media=delete_media,
        queries=ChatQueries(uow, reads),
        sweep=SweepHandler(
            uow,
            files,
            clock,
            draft_ttl=draft_ttl,
            orphan_grace=orphan_grace,
            partials=partials,
            upload_ttl=resumable_ttl,
            scanner=None if scanning is None else scanning.scanner,
            removal=None if scanning is None else delete_media,
        ),
        resumable_uploads=ResumableUploads(uow, partials, upload_media, policy, clock, ttl=resumable_ttl),
    )


def dependencies(use_cases: UseCases) -> dict[str, Provide]:
    """One Litestar dependency per use case, named as the handlers' parameters are."""

    def provider(value: object) -> Provide:
        def provide() -> object:
            return value

        provide.__annotations__["return"] = type(value)
        return Provide(provide, use_cache=True, sync_to_thread=False)

    return {f.name: provider(getattr(use_cases, f.name)) for f in fields(use_cases)}
