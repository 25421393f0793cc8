"""An attachment: one file that belongs to a message, and the renditions made of it (a thumbnail;
for a large image, a display-size preview).

Its `filename` is its own public name, the key of every access check; its bytes lie in the store
under `content_name`, which every attachment of the same bytes shares (one copy per content: the
repositories count the references, and the last one to go says the file may go). Renditions stay
the attachment's own: they are small, and made again for each upload."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

THUMBNAIL_EXTENSION = "webp"  # every rendition's
THUMBNAIL_CONTENT_TYPE = "image/webp"
THUMBNAIL_MAX_SIDE = 320  # pixels on the long side
PREVIEW_MAX_SIDE = 1600  # an image larger than this on its long side gets a preview of this size


class Rendition(StrEnum):
    """A WebP made of an attachment and stored beside it as "<uuid>.<value>.webp", served to whoever
    may see the file by a route of its own: a thumbnail (images, video posters), and a preview for a
    lightbox (images over PREVIEW_MAX_SIDE; the file itself stays the download)."""

    THUMBNAIL = "thumb"
    PREVIEW = "preview"

    @property
    def route(self) -> str:
        """The last segment of its route, /api/v1/media/{id}/<route>."""
        return "thumbnail" if self is Rendition.THUMBNAIL else "preview"


class MediaKind(StrEnum):
    IMAGE = "image"
    DOCUMENT = "document"
    VIDEO = "video"


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    id: uuid.UUID
    message_id: uuid.UUID | None  # None: a draft, seen by its uploader alone until a message names it
    uploader_id: str
    filename: str  # its public name, "<uuid>.<ext>": what a download names and is checked against
    original_name: str  # cleaned, for display and Content-Disposition only
    content_type: str  # from the bytes, never from the client
    kind: MediaKind
    size: int  # of the stored bytes: after processing, what is served
    sha256: str  # likewise
    created_at: datetime
    # What processing learnt; None where it is unknown (documents, a file it could not read).
    width: int | None = None  # as displayed: after the image's orientation is applied
    height: int | None = None
    duration_s: float | None = None  # videos
    blurhash: str | None = None  # a few bytes a client paints before it asks for anything
    thumbnail_sha256: str | None = None  # set when a thumbnail is stored under `thumbnail_name(id)`
    preview_sha256: str | None = None  # likewise a preview, under `rendition_name(id, PREVIEW)`
    # Videos: True when the stored file is the remux without the source's tags (a phone's location
    # among them); False when it was kept as it came (the log says why). None for other kinds.
    scrubbed: bool | None = None
    # Stored while the malware scanner did not answer (SCAN_FAIL=open): the sweep scans it again.
    unscanned: bool = False
    # The store's name of its bytes: the `filename` of the first attachment of these bytes still
    # stored when this one came (its own when it was the first). Never shown to a client.
    content_name: str = ""

    @property
    def is_draft(self) -> bool:
        return self.message_id is None

    @property
    def extension(self) -> str:
        return self.filename.rsplit(".", 1)[1]

    def rendition_sha256(self, rendition: Rendition) -> str | None:
        return self.thumbnail_sha256 if rendition is Rendition.THUMBNAIL else self.preview_sha256

    def rendition_filename(self, rendition: Rendition) -> str | None:
        """Where the rendition is stored; None when none was made."""
        return rendition_name(self.id, rendition) if self.rendition_sha256(rendition) is not None else None

    @property
    def rendition_filenames(self) -> tuple[str, ...]:
        """The renditions stored beside it: its own, unlike its bytes' file (see `stored_as`)."""
        renditions = (self.rendition_filename(rendition) for rendition in Rendition)
        return tuple(name for name in renditions if name is not None)

    @property
    def thumbnail_filename(self) -> str | None:
        return self.rendition_filename(Rendition.THUMBNAIL)

    @property
    def stored_as(self) -> str:
        """The name the store holds its bytes under (its own filename until a repository said)."""
        return self.content_name or self.filename

    @property
    def stored_names(self) -> tuple[str, ...]:
        """Every file the store holds for this attachment: its bytes' (shared with every attachment
        of the same bytes: deleting it removes that file only with the last of them) and its
        renditions'."""
        return (self.stored_as, *self.rendition_filenames)


_UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
# Two shapes and no others: "<uuid>.<ext>" and "<uuid>.<rendition>.webp". Neither holds a slash, a
# dot-dot or anything percent-encoded, so no stored name can step out of the store's folder.
_RENDITIONS = "|".join(rendition.value for rendition in Rendition)
_STORED_NAME = re.compile(rf"{_UUID4}\.(?:[a-z0-9]{{2,5}}|(?:{_RENDITIONS})\.{THUMBNAIL_EXTENSION})")


def stored_name(attachment_id: uuid.UUID, extension: str) -> str:
    """An attachment's public name, and the name its bytes are stored under when they are new:
    its own UUID and its extension."""
    return f"{attachment_id}.{extension}"


def rendition_name(attachment_id: uuid.UUID, rendition: Rendition) -> str:
    """The name an attachment's rendition is stored under, beside the file."""
    return f"{attachment_id}.{rendition.value}.{THUMBNAIL_EXTENSION}"


def thumbnail_name(attachment_id: uuid.UUID) -> str:
    return rendition_name(attachment_id, Rendition.THUMBNAIL)


def rendition_owner(name: str) -> tuple[uuid.UUID, Rendition] | None:
    """The attachment id and rendition a rendition's stored name belongs to; None for any other."""
    stem, _, rest = name.partition(".")
    kind, _, extension = rest.partition(".")
    if extension != THUMBNAIL_EXTENSION or kind not in _RENDITIONS.split("|") or not is_stored_name(name):
        return None
    return uuid.UUID(stem), Rendition(kind)


def is_stored_name(name: str) -> bool:
    """True for names `stored_name` or `rendition_name` can produce; anything else (paths,
    encodings, NULs) is no file."""
    return _STORED_NAME.fullmatch(name) is not None
