"""What an upload's bytes are and what is made of them: the sniffer and the processors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from application.ports.files import MediaSource, StagedFile
from domain.attachment import Rendition
from domain.policy import Admission


class ContentSniffer(Protocol):
    def sniff(self, head: bytes) -> str | None:
        """The MIME type the leading bytes' signature names, or None when none is known."""
        ...


Stage = Callable[[], Awaitable[StagedFile]]
"""Stages a fresh file in the upload's session (discarded with it unless it is published): where a
processor writes an output too large to hand back as bytes, such as a remuxed video."""


@dataclass(frozen=True, slots=True)
class Restaged:
    """A file a processor filled through `Stage`, to store instead of the upload's bytes."""

    file: StagedFile
    size: int
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessedMedia:
    """What a processor made of an admitted file. Every field may be missing: nothing to change,
    nothing learnt, no thumbnail (then `note` says why, for the log)."""

    # What to store instead of the upload's bytes, when processing rewrote them: a small output
    # (a re-encoded photo) as bytes, a large one (a remuxed video) as a staged file. None: keep them.
    content: bytes | None = None
    restaged: Restaged | None = None
    scrubbed: bool | None = None  # videos: False when the container was kept as it came (see `note`)
    # What `content` is when processing converted it (a HEIC stored as a JPEG): the stored file's
    # MIME type and extension, both or neither; None: what the upload was admitted as.
    content_type: str | None = None
    extension: str | None = None
    thumbnail: bytes | None = None  # a WebP of at most THUMBNAIL_MAX_SIDE pixels on its long side
    preview: bytes | None = None  # a WebP of at most PREVIEW_MAX_SIDE, for an image larger than that
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    blurhash: str | None = None
    note: str | None = None

    @property
    def renditions(self) -> dict[Rendition, bytes]:
        """What to store beside the file, by rendition."""
        made = {Rendition.THUMBNAIL: self.thumbnail, Rendition.PREVIEW: self.preview}
        return {rendition: data for rendition, data in made.items() if data is not None}

    def __post_init__(self) -> None:
        if (self.content_type is None) != (self.extension is None) or (
            self.content_type is not None and self.content is None
        ):
            raise ValueError("a conversion names its bytes, their content type and extension together")


class MediaProcessor(Protocol):
    """Makes what is stored and shown of an admitted file of one kind: metadata removed, orientation
    applied, a thumbnail (and for a large image a preview), dimensions, a placeholder. The work runs
    off the event loop, a bounded number of files at a time, each within a time limit.

    Raises ImageTooLarge (a FileTooLarge) when the header claims more pixels or frames than the
    policy's budget, before anything is decoded, and UnsupportedMediaType when the bytes are not
    readable as the admitted type at all. A file that is readable but does not decode whole (a
    truncated image, a video its decoder cannot open in time) is no error: it is kept without a
    thumbnail, and `note` says why."""

    async def process(self, source: MediaSource, admission: Admission, stage: Stage) -> ProcessedMedia:
        """`stage` gives a file to write a large output into (see `Restaged`); most never call it."""
        ...
