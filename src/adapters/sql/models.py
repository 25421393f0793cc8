"""The tables, as advanced-alchemy models. Rows are not domain objects: the repositories map them.

Every foreign key cascades on delete in the database itself, so deleting a message takes its
attachment rows with it whatever deletes it (the seed's CASCADE), and every lookup path has an index.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.base import BigIntBase, UUIDBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship


class ConversationRow(UUIDBase):
    __tablename__ = "conversations"

    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(200))
    # "<member a>\n<member b>" (sorted) for a direct conversation, NULL for a group: the unique index
    # makes "one direct conversation per pair" hold under concurrent requests too.
    direct_pair: Mapped[str | None] = mapped_column(String(511), unique=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_activity_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    # Written with the conversation; read by the repository as plain user ids, never as 1,000 ORM
    # objects: "raise" makes an accidental load of them an error, not a slow page.
    members: Mapped[list[MemberRow]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class MemberRow(UUIDBase):
    __tablename__ = "conversation_members"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255), index=True)


class MessageRow(UUIDBase):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    has_media: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class AttachmentRow(UUIDBase):
    """The seed's `media_attachments` table."""

    __tablename__ = "media_attachments"
    __table_args__ = (
        Index("ix_media_attachments_message_id_position", "message_id", "position"),
        # Only the few unscanned rows are indexed: what the sweep looks for.
        Index(
            "ix_media_attachments_unscanned",
            "id",
            sqlite_where=text("unscanned"),
            postgresql_where=text("unscanned"),
        ),
    )

    # NULL: a draft, its uploader's alone until a message names it.
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # upload order within the message
    uploader_id: Mapped[str] = mapped_column(String(255), index=True)  # quota sums, draft ownership
    filename: Mapped[str] = mapped_column(String(64), unique=True)  # its public name
    # The store's name of its bytes: a `stored_contents.name` (no key: the content row goes in the
    # transaction that drops the last reference, which the repository does, not a cascade).
    content_name: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)  # draft sweep
    # What media processing learnt (NULL where unknown); a thumbnail or preview is stored when its
    # hash is set.
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    blurhash: Mapped[str | None] = mapped_column(String(128))
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    preview_sha256: Mapped[str | None] = mapped_column(String(64))
    scrubbed: Mapped[bool | None] = mapped_column(Boolean)
    # True: stored while the malware scanner did not answer (SCAN_FAIL=open), to be scanned again.
    unscanned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StoredContentRow(UUIDBase):
    """One copy of some bytes in the store, whoever uploaded them and wherever: `refs` attachments
    name it (`media_attachments.content_name`), always at least one. The unique sha256 makes two
    uploads of the same bytes at once end as one row; the last reference deletes it."""

    __tablename__ = "stored_contents"

    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # the store's file
    size: Mapped[int] = mapped_column(BigInteger)
    refs: Mapped[int] = mapped_column(Integer)


class EventRow(BigIntBase):
    """The event log: one row per announced change, written in the change's own transaction. The
    id is the cursor a reconnecting client names, taken from `EventCursorRow` (never the table's
    own sequence)."""

    __tablename__ = "conversation_events"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class EventCursorRow(BigIntBase):
    """One row (id 1): the last cursor handed to an event. Taking the next one locks the row until
    the transaction ends, so events get their cursors in commit order and without gaps, which a
    database sequence (handed out at insert, kept by a rollback) does not give."""

    __tablename__ = "event_cursor"

    last: Mapped[int] = mapped_column(BigInteger)


class UploadSessionRow(UUIDBase):
    """A resumable (tus) upload: what its creator announced. Its bytes so far are on disk."""

    __tablename__ = "upload_sessions"

    uploader_id: Mapped[str] = mapped_column(String(255), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    # Deleting the message ends the uploads meant for it; the bytes left go with the sweep.
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    length: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)  # the sweep
    attachment_id: Mapped[uuid.UUID | None] = mapped_column(default=None)  # no key: it may be deleted


metadata = UUIDBase.metadata
