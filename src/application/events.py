"""What members of a conversation are told after a change is committed (the contract's events)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.attachment import Attachment
from domain.conversation import Message


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageCreated:
    conversation_id: uuid.UUID
    message: Message
    attachments: Sequence[Attachment]


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaAttached:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    attachments: Sequence[Attachment]


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaDeleted:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    media_id: uuid.UUID
    has_media: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDeleted:
    conversation_id: uuid.UUID
    message_id: uuid.UUID


Event = MessageCreated | MediaAttached | MediaDeleted | MessageDeleted
