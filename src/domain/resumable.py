"""A resumable (tus) upload in progress: what was promised at creation, before any byte arrived."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from domain.errors import NotFound


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadSession:
    id: uuid.UUID
    uploader_id: str
    original_name: str
    message_id: uuid.UUID | None  # None: the finished file becomes the uploader's draft
    length: int  # the bytes the client announced; the upload finishes when this many arrived
    created_at: datetime
    expires_at: datetime  # past this it is refused and swept, finished or not
    attachment_id: uuid.UUID | None = None  # set once finished: the attachment it became

    @property
    def finished(self) -> bool:
        return self.attachment_id is not None

    def owned_by(self, user_id: str, now: datetime) -> UploadSession:
        """The session, for its creator while it lives; NotFound for anyone else (never tells which)."""
        if self.uploader_id != user_id or now >= self.expires_at:
            raise NotFound("No such upload.")
        return self
