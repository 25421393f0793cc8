"""What members of a conversation are told after a change is committed (the contract's events).

Every event carries `seq`, the conversation's sequence number for the change: strictly increasing
per conversation, so a client sees a gap and fills it. The event log gives each event a `cursor`,
its place across all conversations, which a reconnecting client names to get what it missed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.attachment import Attachment
from domain.conversation import Message


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageCreated:
    conversation_id: uuid.UUID
    seq: int
    message: Message
    attachments: Sequence[Attachment]


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaAttached:
    conversation_id: uuid.UUID
    seq: int
    message_id: uuid.UUID
    attachments: Sequence[Attachment]


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaDeleted:
    conversation_id: uuid.UUID
    seq: int
    message_id: uuid.UUID
    media_id: uuid.UUID
    has_media: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDeleted:
    conversation_id: uuid.UUID
    seq: int
    message_id: uuid.UUID


Event = MessageCreated | MediaAttached | MediaDeleted | MessageDeleted


@dataclass(frozen=True, slots=True, kw_only=True)
class Logged:
    """An event as the log keeps it: `cursor` orders it among every conversation's events."""

    cursor: int
    event: Event
