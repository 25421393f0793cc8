"""Resumable uploads (tus): a session is created with the file's name, length and message, its bytes
are appended in as many requests as the network allows, and the finished file goes through the
plain upload, so it becomes an attachment exactly as a multipart upload would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import anyio

from application.ports.clock import Clock
from application.ports.partials import PartialStore
from application.ports.unit_of_work import UnitOfWorkFactory
from application.upload_commit import attachable
from application.upload_media import UploadMedia
from domain.errors import Conflict, InvalidInput, MediaError, NotFound, StorageUnavailable
from domain.policy import MediaPolicy
from domain.resumable import UploadSession


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUpload:
    uploader_id: str
    original_name: str
    length: int
    message_id: uuid.UUID | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendToUpload:
    uploader_id: str
    upload_id: uuid.UUID
    offset: int
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadState:
    session: UploadSession
    offset: int

    @property
    def attachment_id(self) -> uuid.UUID | None:
        return self.session.attachment_id


class ResumableUploads:
    """Rules:
    - creation refuses at once what it can know: an extension not allowed (415), a length over
      `max_upload_size` or past the uploader's quota (413), an empty file (422), a message the
      uploader cannot see (404) or did not send (403) — the plain upload's answers;
    - a session is its creator's alone, until it expires: anyone else is told it does not exist;
    - bytes are appended only at the current offset (409 otherwise, and while another append runs),
      never past the announced length (413, keeping none of that request); what an interrupted
      request delivered is kept, so the client resumes from the offset it is told;
    - once the length is reached, the bytes go through `UploadMedia` as one file (with the
      message id, if any): type, body, quota, drafts, commit and broadcast are the plain upload's.
      A refusal there (e.g. 415) ends the session and its bytes; a storage failure keeps them, and
      an empty append at the end tries again;
    - a finished session remembers its attachment until it expires; termination removes the
      session and its bytes (an attachment it became stays)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        partials: PartialStore,
        upload_media: UploadMedia,
        policy: MediaPolicy,
        clock: Clock,
        *,
        ttl: timedelta,
    ) -> None:
        self._uow = uow
        self._partials = partials
        self._upload_media = upload_media
        self._policy = policy
        self._clock = clock
        self._ttl = ttl

    async def create(self, command: CreateUpload) -> UploadSession:
        self._policy.extension_of(command.original_name)
        self._policy.check_size(command.original_name, command.length)
        if command.length <= 0:
            raise InvalidInput(f"'{command.original_name}' is empty.")
        now = self._clock.now()
        session = UploadSession(
            id=uuid.uuid4(),
            uploader_id=command.uploader_id,
            original_name=command.original_name,
            message_id=command.message_id,
            length=command.length,
            created_at=now,
            expires_at=now + self._ttl,
        )
        async with self._uow() as uow:
            if self._policy.storage_quota is not None:
                stored = await uow.attachments.bytes_stored_by(command.uploader_id)
                self._policy.check_quota(stored, command.length)
            if command.message_id is not None:
                await attachable(uow, command.message_id, command.uploader_id)
            await uow.uploads.add(session)
            await uow.commit()
        return session

    async def state(self, uploader_id: str, upload_id: uuid.UUID) -> UploadState:
        session = await self._session(uploader_id, upload_id)
        if session.finished:
            return UploadState(session=session, offset=session.length)
        return UploadState(session=session, offset=await self._partials.length(upload_id))

    async def append(self, command: AppendToUpload) -> UploadState:
        session = await self._session(command.uploader_id, command.upload_id)
        if session.finished:
            raise Conflict("This upload is already complete.")
        offset = await self._partials.append(session.id, command.offset, command.chunks, session.length)
        if offset < session.length:
            return UploadState(session=session, offset=offset)
        return UploadState(session=await self._finish(session), offset=offset)

    async def terminate(self, uploader_id: str, upload_id: uuid.UUID) -> None:
        session = await self._session(uploader_id, upload_id)
        await self._remove(session)

    async def _session(self, uploader_id: str, upload_id: uuid.UUID) -> UploadSession:
        async with self._uow() as uow:
            session = await uow.uploads.get(upload_id)
        if session is None:
            raise NotFound("No such upload.")
        return session.owned_by(uploader_id, self._clock.now())

    async def _finish(self, session: UploadSession) -> UploadSession:
        try:
            async with await self._upload_media.begin(session.uploader_id, session.message_id) as upload:
                await upload.receive(session.original_name, self._partials.read(session.id))
                [attachment] = await upload.commit()
        except StorageUnavailable:
            raise  # the bytes stay: the client may try again
        except MediaError:
            with anyio.CancelScope(shield=True):
                await self._remove(session)
            raise
        async with self._uow() as uow:
            await uow.uploads.finish(session.id, attachment.id)
            await uow.commit()
        await self._partials.delete(session.id)
        return replace(session, attachment_id=attachment.id)

    async def _remove(self, session: UploadSession) -> None:
        async with self._uow() as uow:  # the row first: a file without one is swept
            await uow.uploads.delete(session.id)
            await uow.commit()
        await self._partials.delete(session.id)
