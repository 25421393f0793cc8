"""The repositories a unit of work holds: conversations, messages, attachments and the contents
their bytes are stored as, resumable uploads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.attachment import Attachment
from domain.conversation import Conversation, Message
from domain.resumable import UploadSession


class ConversationReads(Protocol):
    """What the reads need of the conversations (`application.ports.unit_of_work.Reading`)."""

    async def get(self, conversation_id: uuid.UUID) -> Conversation | None:
        """The conversation with all its members (a group's may be 10,000: read when the members
        are needed, to answer or to tell them; a check of one user is `is_member`)."""
        ...

    async def is_member(self, conversation_id: uuid.UUID, user_id: str) -> bool:
        """Whether the user is a member now; False for an unknown conversation."""
        ...

    async def list_for_member(self, user_id: str) -> Sequence[Conversation]:
        """The user's conversations, most recent activity first."""
        ...


class ConversationRepository(ConversationReads, Protocol):
    async def add(self, conversation: Conversation) -> None: ...

    async def find_direct(self, member_a: str, member_b: str) -> Conversation | None:
        """The direct conversation between exactly these two users, if there is one."""
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


class MessageReads(Protocol):
    async def get(self, message_id: uuid.UUID) -> Message | None: ...

    async def list_page(
        self, conversation_id: uuid.UUID, *, before: uuid.UUID | None, limit: int
    ) -> Sequence[Message]:
        """At most `limit` messages, newest first, strictly older than `before` when given.
        Raises NotFound when `before` is not a message of this conversation."""
        ...


class MessageRepository(MessageReads, Protocol):
    async def add(self, message: Message) -> None: ...

    async def set_has_media(self, message_id: uuid.UUID, has_media: bool) -> None: ...

    async def hold(self, message_id: uuid.UUID) -> bool:
        """Keeps the message from being deleted until the transaction ends, for attachments being
        added to it (before their contents' rows are locked: a message's delete takes the message,
        then those rows, and both take them in that order); False when it is gone."""
        ...

    async def delete(self, message_id: uuid.UUID) -> None:
        """Deletes the message and, by cascade, its attachment rows; the cascade drops no reference
        to their contents: `AttachmentRepository.delete_for_message` goes first."""
        ...


class AttachmentReads(Protocol):
    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None:
        """The attachment with this id, and whether `viewer` is a member of its message's
        conversation now: both in one read, for the access check; None for an unknown id."""
        ...

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None:
        """The same, for the attachment stored under this name (a download's path)."""
        ...

    async def list_for_messages(self, message_ids: Sequence[uuid.UUID]) -> Sequence[Attachment]:
        """Their attachments, in upload order."""
        ...

    async def seen_of_message(self, viewer: str, message_id: uuid.UUID) -> MessageMediaSeen | None:
        """The message's attachments in upload order, and whether `viewer` is a member of its
        conversation now, in one read (a client's most frequent one); None for an unknown message."""
        ...


class AttachmentRepository(AttachmentReads, Protocol):
    async def add(self, attachment: Attachment) -> None: ...

    async def count_for_message(self, message_id: uuid.UUID) -> int: ...

    async def delete(self, attachment_id: uuid.UUID) -> Sequence[str]:
        """Deletes the row and drops its reference to its content: returns the store names nobody
        names any more (its thumbnail; its content's file when it was the last reference), which
        the caller removes after the commit. Nothing for an id already gone: of two concurrent
        deletes one drops the reference."""
        ...

    async def delete_for_message(self, message_id: uuid.UUID) -> Sequence[str]:
        """The same for every attachment of the message, before the message itself goes (its
        cascade would take rows without dropping their references). The message is locked first:
        an upload committing to it meanwhile lands before (and is deleted here) or fails."""
        ...

    async def attach(self, attachment_ids: Sequence[uuid.UUID], message_id: uuid.UUID) -> None:
        """Makes these drafts the message's attachments, in the order given."""
        ...

    async def bytes_stored_by(self, uploader_id: str) -> int:
        """The total size of the user's stored files, drafts included."""
        ...

    async def drafts_created_before(self, cutoff: datetime, limit: int) -> Sequence[Attachment]: ...

    async def stored_filenames(self, filenames: Sequence[str]) -> frozenset[str]:
        """Which of these names a row names: a content's file, or an attachment's thumbnail when
        it has one. An attachment's own `filename` is not one: a second copy of known bytes under
        it (two uploads of them at once, and a crash) is a leftover."""
        ...

    async def unscanned(self, limit: int, *, after: uuid.UUID | None = None) -> Sequence[Attachment]:
        """At most `limit` attachments stored while the scanner did not answer, in id order, after
        `after` when given (the sweep pages through them)."""
        ...

    async def mark_scanned(self, attachment_id: uuid.UUID) -> None:
        """Records that the scanner found the file clean; a missing row is not an error."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredContent:
    """One copy of some bytes in the store, and how many attachments refer to it (always > 0: the
    last reference to go deletes it)."""

    sha256: str
    name: str  # the store's name of the file
    size: int
    refs: int


class ContentRepository(Protocol):
    """The stored contents: one file per sha256, counted. References are dropped by deleting
    attachments (`AttachmentRepository.delete`), never here."""

    async def get(self, sha256: str) -> StoredContent | None: ...

    async def refer(self, sha256: str, size: int, name: str | None) -> str | None:
        """Adds a reference to the content of these bytes and returns its name, atomically: a
        concurrent last delete either comes after (and leaves it) or before (and it is not found).
        When no content holds them: with `name` (a file just published), records that file as
        their content, with one reference, and returns `name`; without, returns None. Of two
        uploads offering a name at once, one's becomes the content and the other refers to it."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentSeen:
    attachment: Attachment
    viewer_is_member: bool  # of the conversation of the attachment's message; False for a draft


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


@dataclass(frozen=True, slots=True)
class MessageMediaSeen:
    attachments: Sequence[Attachment]
    viewer_is_member: bool
