"""An attachment: one stored file that belongs to a message."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MediaKind(StrEnum):
    IMAGE = "image"
    DOCUMENT = "document"
    VIDEO = "video"


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    id: uuid.UUID
    message_id: uuid.UUID | None  # None: a draft, seen by its uploader alone until a message names it
    uploader_id: str
    filename: str  # the stored name, "<uuid>.<ext>": the only name the store knows
    original_name: str  # cleaned, for display and Content-Disposition only
    content_type: str  # from the bytes, never from the client
    kind: MediaKind
    size: int
    sha256: str
    created_at: datetime

    @property
    def is_draft(self) -> bool:
        return self.message_id is None

    @property
    def extension(self) -> str:
        return self.filename.rsplit(".", 1)[1]


_STORED_NAME = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.[a-z0-9]{2,5}"
)


def stored_name(attachment_id: uuid.UUID, extension: str) -> str:
    """The only name a file is ever stored under: the attachment's own UUID and its extension."""
    return f"{attachment_id}.{extension}"


def is_stored_name(name: str) -> bool:
    """True for names `stored_name` can produce; anything else (paths, encodings, NULs) is no file."""
    return _STORED_NAME.fullmatch(name) is not None
