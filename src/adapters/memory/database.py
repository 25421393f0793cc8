"""The in-memory database: the committed state the in-memory repositories and event log read and
write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from application.events import Logged
from application.ports.repositories import StoredContent
from domain.attachment import Attachment
from domain.conversation import Conversation, Message
from domain.resumable import UploadSession


@dataclass
class MemoryDatabase:
    """The committed state; a unit of work edits a copy and swaps it in on commit."""

    conversations: dict[uuid.UUID, Conversation] = field(default_factory=dict)
    seqs: dict[uuid.UUID, int] = field(default_factory=dict)
    messages: dict[uuid.UUID, Message] = field(default_factory=dict)
    attachments: dict[uuid.UUID, Attachment] = field(default_factory=dict)
    contents: dict[str, StoredContent] = field(default_factory=dict)  # by sha256
    events: list[Logged] = field(default_factory=list)
    uploads: dict[uuid.UUID, UploadSession] = field(default_factory=dict)
