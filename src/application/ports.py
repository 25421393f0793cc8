"""The ports the use cases drive. Adapters implement them; in-memory ones live in `adapters.memory`.

Every port raises the domain's errors, never its technology's: an adapter that cannot reach its
backend raises `StorageUnavailable` (chained to the cause).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.events import Event, Logged
from domain.attachment import Attachment
from domain.content_checks import BodyCheck
from domain.conversation import Conversation, Message
from domain.policy import Admission
from domain.resumable import UploadSession


class ConversationRepository(Protocol):
    async def add(self, conversation: Conversation) -> None: ...

    async def get(self, conversation_id: uuid.UUID) -> Conversation | None:
        """The conversation with all its members (a group's may be 1,000: read when the members
        are needed, to answer or to tell them; a check of one user is `is_member`)."""
        ...

    async def is_member(self, conversation_id: uuid.UUID, user_id: str) -> bool:
        """Whether the user is a member now; False for an unknown conversation."""
        ...

    async def find_direct(self, member_a: str, member_b: str) -> Conversation | None:
        """The direct conversation between exactly these two users, if there is one."""
        ...

    async def list_for_member(self, user_id: str) -> Sequence[Conversation]:
        """The user's conversations, most recent activity first."""
        ...

    async def add_members(self, conversation_id: uuid.UUID, user_ids: frozenset[str]) -> None:
        """Adds the users who are not members yet; members already there are left as they are."""
        ...

    async def remove_member(self, conversation_id: uuid.UUID, user_id: str) -> None:
        """Removes the user from the conversation's members; what they sent stays. Raises NotFound
        when the user is not a member of it (an unknown conversation included), so that of two
        concurrent removals of the same member one fails instead of both answering done."""
        ...

    async def advance(self, conversation_id: uuid.UUID, at: datetime) -> int:
        """Records activity at `at` (it orders the members' lists) and returns the conversation's
        next sequence number, atomically: two concurrent changes never get the same one."""
        ...


class MessageRepository(Protocol):
    async def add(self, message: Message) -> None: ...

    async def get(self, message_id: uuid.UUID) -> Message | None: ...

    async def list_page(
        self, conversation_id: uuid.UUID, *, before: uuid.UUID | None, limit: int
    ) -> Sequence[Message]:
        """At most `limit` messages, newest first, strictly older than `before` when given.
        Raises NotFound when `before` is not a message of this conversation."""
        ...

    async def set_has_media(self, message_id: uuid.UUID, has_media: bool) -> None: ...

    async def delete(self, message_id: uuid.UUID) -> None:
        """Deletes the message and, by cascade, its attachment rows."""
        ...


class AttachmentRepository(Protocol):
    async def add(self, attachment: Attachment) -> None: ...

    async def seen_by(
        self, viewer: str, *, attachment_id: uuid.UUID | None = None, filename: str | None = None
    ) -> AttachmentSeen | None:
        """The attachment with this id, or stored under this name (one of the two is given), and
        whether `viewer` is a member of its message's conversation now: both in one read, for
        the access check every download makes."""
        ...

    async def list_for_messages(self, message_ids: Sequence[uuid.UUID]) -> Sequence[Attachment]:
        """Their attachments, in upload order."""
        ...

    async def count_for_message(self, message_id: uuid.UUID) -> int: ...

    async def delete(self, attachment_id: uuid.UUID) -> None: ...

    async def attach(self, attachment_ids: Sequence[uuid.UUID], message_id: uuid.UUID) -> None:
        """Makes these drafts the message's attachments, in the order given."""
        ...

    async def bytes_stored_by(self, uploader_id: str) -> int:
        """The total size of the user's stored files, drafts included."""
        ...

    async def drafts_created_before(self, cutoff: datetime, limit: int) -> Sequence[Attachment]: ...

    async def stored_filenames(self, filenames: Sequence[str]) -> frozenset[str]:
        """Which of these names a row names: as its file, or as its thumbnail when it has one."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentSeen:
    attachment: Attachment
    viewer_is_member: bool  # of the conversation of the attachment's message; False for a draft


class AttachmentAccess(Protocol):
    """The access check of a download as a read of its own, outside any unit of work: what
    `AttachmentRepository.seen_by` answers, as committed when it reads. Downloads are most of a
    media service's requests, so an adapter may answer from a cheaper path than a unit of work's
    (application.access.UnitOfWorkAccess is the one every adapter set can use)."""

    async def seen_by(
        self, viewer: str, *, attachment_id: uuid.UUID | None = None, filename: str | None = None
    ) -> AttachmentSeen | None: ...


class EventLog(Protocol):
    """The events, written in the transaction of the change they announce (so an event is logged
    if and only if its change is committed), for clients that reconnect and ask what they missed."""

    async def append(self, event: Event) -> Logged: ...

    async def since(self, user_id: str, cursor: int, limit: int) -> Sequence[Logged]:
        """At most `limit` events after `cursor`, in cursor order, of the conversations the user is
        a member of now."""
        ...

    async def between(self, after: int, upto: int) -> Sequence[tuple[Logged, frozenset[str]]]:
        """The events with a cursor in (`after`, `upto`], in cursor order, each with the members of
        its conversation now: what a process missed hearing, to hand to its sockets."""
        ...

    async def last_cursor(self) -> int:
        """The newest cursor (0 when the log is empty): where a client that has seen nothing starts.
        Cursors follow commit order: once a cursor is readable, every lower one is too."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the repositories. Leaving the block without `commit()` rolls back."""

    conversations: ConversationRepository
    messages: MessageRepository
    attachments: AttachmentRepository
    events: EventLog
    uploads: UploadSessionRepository

    async def commit(self) -> None: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class MediaSource(Protocol):
    """Bytes a processor reads: a staged upload, before it is published."""

    @property
    def size(self) -> int: ...

    @property
    def local_path(self) -> str | None:
        """A path the bytes may be read from by another program (until publish or discard), or None."""
        ...

    def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        """The bytes in `[start, end)`, in chunks of at most `chunk_size`."""
        ...


class StagedFile(MediaSource, Protocol):
    """A file being written where the store can publish it atomically; invisible until then. What
    was written can be read back (`MediaSource`) until it is published or discarded."""

    async def fill(self, chunks: AsyncIterable[bytes], check: BodyCheck | None = None) -> str:
        """Appends the chunks, in order, feeding each to sha256 and to `check` as it goes, and
        returns the hex sha256 of what this call wrote (the adapter may hash, check and write side
        by side, off the event loop). What the chunks or the check raise passes on; the staged
        file is then to be discarded. Raises StorageUnavailable when the store cannot be written."""
        ...

    async def publish(self, filename: str) -> None:
        """Makes the bytes durable and visible under `filename` in one step (fsync, rename)."""
        ...

    async def discard(self) -> None:
        """Removes what was written; safe to call after `publish` (it does nothing then)."""
        ...


class FileStore(Protocol):
    def stage(self) -> AbstractAsyncContextManager[StagedFile]:
        """A staged file that is discarded on leaving the block unless it was published."""
        ...

    def open(self, filename: str) -> AbstractAsyncContextManager[OpenFile]:
        """Opens a published file for reading; raises NotFound when it is not there. The bytes
        stay readable until the block ends, even if the file is deleted meanwhile."""
        ...

    async def delete(self, filename: str) -> None:
        """Removes a published file; a missing one is not an error."""
        ...

    async def check(self) -> None:
        """Raises StorageUnavailable when the store cannot be written."""
        ...

    async def published_before(self, cutoff: datetime, limit: int) -> Sequence[str]:
        """Names of published files last written before `cutoff` (at most `limit`), for the sweeper."""
        ...


class OpenFile(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def local_path(self) -> str | None:
        """A path the server may open to send the same bytes (also after a delete), or None."""
        ...

    def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        """The bytes in `[start, end)`, in chunks of at most `chunk_size`."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessedMedia:
    """What a processor made of an admitted file. Every field may be missing: nothing to change,
    nothing learnt, no thumbnail (then `note` says why, for the log)."""

    content: bytes | None = None  # the bytes to store instead of the upload's; None: keep those
    thumbnail: bytes | None = None  # a WebP of at most THUMBNAIL_MAX_SIDE pixels on its long side
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    blurhash: str | None = None
    note: str | None = None


class MediaProcessor(Protocol):
    """Makes what is stored and shown of an admitted file of one kind: metadata removed, orientation
    applied, a thumbnail, dimensions, a placeholder. The work runs off the event loop, a bounded
    number of files at a time, each within a time limit.

    Raises ImageTooLarge (a FileTooLarge) when the header claims more pixels or frames than the
    policy's budget, before anything is decoded, and UnsupportedMediaType when the bytes are not
    readable as the admitted type at all. A file that is readable but does not decode whole (a
    truncated image, a video its decoder cannot open in time) is no error: it is kept without a
    thumbnail, and `note` says why."""

    async def process(self, source: MediaSource, admission: Admission) -> ProcessedMedia: ...


class ContentSniffer(Protocol):
    def sniff(self, head: bytes) -> str | None:
        """The MIME type the leading bytes' signature names, or None when none is known."""
        ...


class Broadcaster(Protocol):
    """Delivers a logged event to the users in `audience` (the conversation's members when the
    change committed). Called only after the commit; it never raises: a failure to deliver never
    undoes the change (clients catch up from the event log or by listing)."""

    async def publish(self, logged: Logged, audience: frozenset[str]) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class UploadSessionRepository(Protocol):
    """The resumable uploads' sessions. The bytes received so far are the PartialStore's."""

    async def add(self, session: UploadSession) -> None: ...

    async def get(self, session_id: uuid.UUID) -> UploadSession | None: ...

    async def finish(self, session_id: uuid.UUID, attachment_id: uuid.UUID) -> None:
        """Records the attachment the upload became."""
        ...

    async def delete(self, session_id: uuid.UUID) -> None:
        """A missing session is not an error."""
        ...

    async def expired(self, now: datetime, limit: int) -> Sequence[UploadSession]:
        """At most `limit` sessions whose `expires_at` is not after `now`."""
        ...


class PartialStore(Protocol):
    """The bytes of resumable uploads in progress, one growing file per session. Its length is the
    upload's offset: what it holds is durable once `append` returned."""

    async def append(
        self, upload_id: uuid.UUID, offset: int, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        """Appends the chunks and returns the new length, synced to disk. Raises Conflict when the
        length is not `offset` (a missing upload has length 0) or another append to it is running;
        FileTooLarge, keeping none of this append, when the length would pass `limit`. When the
        chunks end in an error (the client went away), what came is kept and synced, and the
        error passes on."""
        ...

    async def length(self, upload_id: uuid.UUID) -> int:
        """What was received so far; 0 for an unknown upload."""
        ...

    def read(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        """The bytes received, in order, in chunks."""
        ...

    async def delete(self, upload_id: uuid.UUID) -> None:
        """A missing upload is not an error."""
        ...

    async def written_before(self, cutoff: datetime, limit: int) -> Sequence[uuid.UUID]:
        """At most `limit` uploads last written before `cutoff`, for the sweeper."""
        ...
