"""Test data and the use cases wired to the in-memory adapters: no disk, no network.

`World()` is one service: a memory database, a file store, a broadcaster that records, a clock
that moves only when told, and every use case built on them. Its helpers go through the use
cases, except `seed_attachment`, which puts a row and its file in place directly (polyfactory
fills the fields the test does not care about).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from polyfactory import PostGenerated, Use
from polyfactory.factories import DataclassFactory

from adapters.media_pillow import PillowImageProcessor
from adapters.media_workers import MediaWorkers
from adapters.memory import (
    InMemoryFileStore,
    InMemoryPartialStore,
    InMemoryUnitOfWork,
    InMemoryUnitOfWorkFactory,
    RecordingBroadcaster,
)
from adapters.sniffing import FiletypeSniffer
from application.access import ReadingAccess
from application.conversations import (
    AddMembersHandler,
    RemoveMemberHandler,
    StartConversation,
    StartConversationHandler,
)
from application.delete_media import DeleteMediaHandler
from application.events import Event, MediaAttached
from application.intake import Intake
from application.messages import DeleteMessageHandler, PostMessage, PostMessageHandler
from application.ports.media import MediaProcessor
from application.queries import ChatQueries
from application.resumable import ResumableUploads
from application.scanning import Scanning
from application.serve_media import ServeMediaHandler, ServeRenditionHandler
from application.sweep import SweepHandler
from application.upload_media import UploadMedia
from domain.attachment import Attachment, MediaKind, Rendition, stored_name
from domain.conversation import Conversation, ConversationKind, Message
from domain.errors import StorageUnavailable
from domain.policy import MediaPolicy
from entrypoints.http.multipart_form import FieldPart, FilePart, upload_form
from tests.samples import sample

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MiB = 1 << 20


DRAFT_TTL = timedelta(days=1)
ORPHAN_GRACE = timedelta(hours=1)
RESUMABLE_TTL = timedelta(days=1)


@dataclass
class FixedClock:
    """Answers the same instant until a test moves it."""

    at: datetime = START

    def now(self) -> datetime:
        return self.at

    def tick(self, seconds: float = 1) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


def user_id() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


class AttachmentFactory(DataclassFactory[Attachment]):
    uploader_id = Use(user_id)
    kind = MediaKind.IMAGE
    content_type = "image/png"
    original_name = "photo.png"
    filename = PostGenerated(lambda _name, values: stored_name(values["id"], "png"))
    content_name = ""  # its own filename: `stored_as`
    created_at = START
    # Nothing learnt by processing, and no thumbnail stored, unless a test says so.
    width = None
    height = None
    duration_s = None
    blurhash = None
    thumbnail_sha256 = None
    preview_sha256 = None


class GroupFactory(DataclassFactory[StartConversation]):
    """A command to start a group of the creator and two others."""

    creator_id = Use(user_id)
    kind = ConversationKind.GROUP
    title = Use(lambda: "Team")
    member_ids = Use(lambda: [user_id(), user_id()])


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


def file_part(name: str, data: bytes, chunk_size: int = 64 * 1024) -> FilePart:
    return FilePart(original_name=name, chunks=chunked(data, chunk_size))


def message_field(message_id: uuid.UUID | str) -> FieldPart:
    return FieldPart(name="message_id", value=str(message_id))


async def _stream(parts: Sequence[FilePart | FieldPart]) -> AsyncIterator[FilePart | FieldPart]:
    for part in parts:
        yield part


@dataclass(frozen=True)
class FormUpload:
    """What a multipart form hands the upload: the uploader and the form's parts, in order."""

    uploader_id: str
    parts: AsyncIterator[FilePart | FieldPart]


def upload_of(uploader_id: str, *parts: FilePart | FieldPart) -> FormUpload:
    return FormUpload(uploader_id=uploader_id, parts=_stream(parts))


class FlakyUnitOfWorkFactory(InMemoryUnitOfWorkFactory):
    """The memory database, whose commits fail once `down` is set, as a database gone away would."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def __call__(self) -> InMemoryUnitOfWork:
        uow = super().__call__()
        if self.down:

            async def commit() -> None:
                raise StorageUnavailable("The database did not answer.")

            uow.commit = commit  # type: ignore[method-assign]
        return uow


@dataclass
class World:
    policy: MediaPolicy = field(default_factory=MediaPolicy)
    uow: FlakyUnitOfWorkFactory = field(default_factory=FlakyUnitOfWorkFactory)
    files: InMemoryFileStore = field(default_factory=InMemoryFileStore)
    broadcaster: RecordingBroadcaster = field(default_factory=RecordingBroadcaster)
    clock: FixedClock = field(default_factory=FixedClock)
    # None by default: every file is stored as it came, so the upload's own rules are seen alone.
    # `with_processing()` adds Pillow for images (pure CPU, no disk: fine here); video goes through
    # ffmpeg, a child process, in tests/integration.
    processors: dict[MediaKind, MediaProcessor] = field(default_factory=dict)
    # None by default: no malware scan. `InMemoryScanner` flags a byte pattern and can go down.
    scanning: Scanning | None = None

    @classmethod
    def with_processing(cls, policy: MediaPolicy | None = None) -> World:
        policy = policy or MediaPolicy()
        return cls(policy=policy, processors={MediaKind.IMAGE: PillowImageProcessor(policy, MediaWorkers(1))})

    def __post_init__(self) -> None:
        self.db = self.uow.db
        self.partials = InMemoryPartialStore(self.clock)
        self.start = StartConversationHandler(self.uow, self.clock)
        self.add_members = AddMembersHandler(self.uow)
        self.remove_member = RemoveMemberHandler(self.uow)
        self.post_message = PostMessageHandler(self.uow, self.broadcaster, self.clock)
        self.delete_message = DeleteMessageHandler(self.uow, self.files, self.broadcaster, self.clock)
        self.uploads = UploadMedia(
            self.uow,
            self.files,
            Intake(self.policy, FiletypeSniffer()),
            self.broadcaster,
            self.policy,
            self.clock,
            self.processors,
            scanning=self.scanning,
        )
        self.serve = ServeMediaHandler(ReadingAccess(self.uow), self.files)
        self.serve_thumbnail = ServeRenditionHandler(ReadingAccess(self.uow), self.files, Rendition.THUMBNAIL)
        self.serve_preview = ServeRenditionHandler(ReadingAccess(self.uow), self.files, Rendition.PREVIEW)
        self.delete_media = DeleteMediaHandler(self.uow, self.files, self.broadcaster, self.clock)
        self.queries = ChatQueries(self.uow)
        self.sweep = SweepHandler(
            self.uow,
            self.files,
            self.clock,
            draft_ttl=DRAFT_TTL,
            orphan_grace=ORPHAN_GRACE,
            partials=self.partials,
            upload_ttl=RESUMABLE_TTL,
            scanner=None if self.scanning is None else self.scanning.scanner,
            removal=None if self.scanning is None else self.delete_media,
        )
        self.resumable = ResumableUploads(
            self.uow, self.partials, self.uploads, self.policy, self.clock, ttl=RESUMABLE_TTL
        )

    async def upload(self, form: FormUpload) -> Sequence[Attachment]:
        """The form's files uploaded as the HTTP route does: one session, begun at its message_id."""
        return await upload_form(self.uploads, form.uploader_id, form.parts)

    @property
    def events(self) -> list[Event]:
        return self.broadcaster.events

    async def group(self, creator_id: str, *member_ids: str, title: str = "Team") -> Conversation:
        command = GroupFactory.build(creator_id=creator_id, title=title, member_ids=list(member_ids))
        return (await self.start(command)).conversation

    async def post(self, sender_id: str, conversation_id: uuid.UUID, content: str = "hi") -> Message:
        posted = await self.post_message(
            PostMessage(
                sender_id=sender_id, conversation_id=conversation_id, content=content, attachment_ids=[]
            )
        )
        return posted.message

    async def drafts(self, uploader_id: str, *files: tuple[str, bytes]) -> Sequence[Attachment]:
        """Uploads these (name, bytes) with no message_id: the uploader's drafts."""
        return await self.upload(upload_of(uploader_id, *(file_part(name, data) for name, data in files)))

    async def attach(self, message: Message, *files: tuple[str, bytes]) -> Sequence[Attachment]:
        """Uploads these (name, bytes) to the message, as its sender."""
        parts: list[FilePart | FieldPart] = [message_field(message.id)]
        parts += [file_part(name, data) for name, data in files]
        return await self.upload(upload_of(message.sender_id, *parts))

    async def seed_attachment(self, message: Message, data: bytes | None = None) -> Attachment:
        """An attachment row (committed, `has_media` set) and its file, put in place directly."""
        data = sample("png") if data is None else data
        attachment = AttachmentFactory.build(
            message_id=message.id,
            uploader_id=message.sender_id,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        async with self.uow() as uow:
            await uow.contents.refer(attachment.sha256, attachment.size, attachment.filename)
            await uow.attachments.add(attachment)
            await uow.messages.set_has_media(message.id, True)
            await uow.commit()
        self.files.files[attachment.filename] = (data, START)
        return attachment

    def attachments_of(self, message_id: uuid.UUID) -> list[Attachment]:
        return [a for a in self.db.attachments.values() if a.message_id == message_id]


async def alices_message(world: World) -> Message:
    """A message of Alice's in a group she shares with Bob; the events of getting there forgotten."""
    group = await world.group("alice", "bob")
    message = await world.post("alice", group.id)
    world.events.clear()
    return message


def assert_nothing_kept(world: World, message: Message) -> None:
    """What a refused upload must leave: no file, no staged file open, no row, no media, no event."""
    assert world.files.files == {}
    assert world.files.staged_open == 0
    assert world.attachments_of(message.id) == []
    assert world.db.messages[message.id].has_media is False
    assert not any(isinstance(event, MediaAttached) for event in world.events)
