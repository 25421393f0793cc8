"""The size and type policy: which files may come in, as what, and how they are shown.

The bytes decide. A file's extension names what the client claims; the signature sniffed from the
first bytes (`SNIFF_WINDOW`) must be one this policy accepts for that extension, and the body checks
of `content_checks` then watch the rest of the stream.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from domain.attachment import MediaKind
from domain.errors import FileTooLarge, ImageTooLarge, QuotaExceeded, UnsupportedMediaType

MAX_UPLOAD_SIZE = 52_428_800  # 50 MB, the seed's cap
# The decoding budget, checked on an image's header before any pixel is decoded: a frame's
# width x height, how many frames an animation may have, and the pixels of all its frames together.
MAX_IMAGE_PIXELS = 50_000_000  # a 12 MP phone photo, a 48 MP one, a long panorama; 200 MB as RGBA
MAX_IMAGE_FRAMES = 1_000
MAX_ANIMATION_PIXELS = 500_000_000  # e.g. 240 frames of 1920 x 1080
SNIFF_WINDOW = 8192  # enough for every signature below, OOXML's "word/" entry included
MAX_DISPLAY_NAME = 255
MAX_FILES_PER_MESSAGE = 10  # files one upload carries, and files one message holds

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "gif", "webp", "bmp", "heic", "heif")
DOCUMENT_EXTENSIONS = ("pdf", "doc", "docx", "txt", "zip", "rar")
VIDEO_EXTENSIONS = ("mp4", "avi", "mov", "mkv", "webm")

# What a file with this extension may be, by the MIME type its signature gives. `None` stands for
# "no known signature", which only plain text may have. The ISO media family (mp4, mov) shares one
# container, and WebM is a Matroska profile, so each accepts its sibling; nothing else crosses. HEIC
# and HEIF are one format named two ways (the brands of one container), stored as JPEG.
ACCEPTED_SIGNATURES: Mapping[str, frozenset[str | None]] = MappingProxyType(
    {
        "jpg": frozenset({"image/jpeg"}),
        "jpeg": frozenset({"image/jpeg"}),
        "png": frozenset({"image/png"}),
        "gif": frozenset({"image/gif"}),
        "webp": frozenset({"image/webp"}),
        "bmp": frozenset({"image/bmp"}),
        "heic": frozenset({"image/heic", "image/heif"}),
        "heif": frozenset({"image/heif", "image/heic"}),
        "pdf": frozenset({"application/pdf"}),
        "doc": frozenset({"application/msword"}),
        "docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
        "txt": frozenset({None}),
        "zip": frozenset({"application/zip"}),
        "rar": frozenset({"application/x-rar-compressed"}),
        "mp4": frozenset({"video/mp4", "video/x-m4v", "video/quicktime"}),
        "mov": frozenset({"video/quicktime", "video/mp4", "video/x-m4v"}),
        "avi": frozenset({"video/x-msvideo"}),
        "mkv": frozenset({"video/x-matroska", "video/webm"}),
        "webm": frozenset({"video/webm"}),
    }
)

# Served with Content-Disposition: inline, because browsers render them without running anything.
INLINE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "webp", "mp4", "webm", "mov"})

TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

# Characters that may not stand in a display name: path separators, and the bidi controls that make
# "evil\u202egpj.exe" read as "evilexe.jpg".
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FORBIDDEN_IN_NAME = frozenset('/\\"') | _BIDI_CONTROLS


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    """What the policy made of an incoming file."""

    extension: str
    kind: MediaKind
    content_type: str


def _kinds(images: Iterable[str], documents: Iterable[str], videos: Iterable[str]) -> Mapping[str, MediaKind]:
    table: dict[str, MediaKind] = {}
    for kind, extensions in (
        (MediaKind.IMAGE, images),
        (MediaKind.DOCUMENT, documents),
        (MediaKind.VIDEO, videos),
    ):
        for raw in extensions:
            ext = raw.strip().lower().lstrip(".")
            if ext not in ACCEPTED_SIGNATURES:
                raise ValueError(f"'{raw}' is not an extension this service knows how to check")
            if ext in table:
                raise ValueError(f"'{raw}' is listed under two kinds")
            table[ext] = kind
    return MappingProxyType(table)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaPolicy:
    """Which extensions are allowed, as which kind, and how large a file may be."""

    max_upload_size: int = MAX_UPLOAD_SIZE
    storage_quota: int | None = None  # bytes one user may keep stored, drafts included; None: no limit
    kinds: Mapping[str, MediaKind] = field(
        default_factory=lambda: _kinds(IMAGE_EXTENSIONS, DOCUMENT_EXTENSIONS, VIDEO_EXTENSIONS)
    )
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_image_frames: int = MAX_IMAGE_FRAMES
    max_animation_pixels: int = MAX_ANIMATION_PIXELS

    @classmethod
    def from_lists(
        cls,
        *,
        max_upload_size: int = MAX_UPLOAD_SIZE,
        storage_quota: int | None = None,
        images: Iterable[str] = IMAGE_EXTENSIONS,
        documents: Iterable[str] = DOCUMENT_EXTENSIONS,
        videos: Iterable[str] = VIDEO_EXTENSIONS,
        max_image_pixels: int = MAX_IMAGE_PIXELS,
        max_image_frames: int = MAX_IMAGE_FRAMES,
        max_animation_pixels: int = MAX_ANIMATION_PIXELS,
    ) -> MediaPolicy:
        if max_upload_size < 1:
            raise ValueError("the upload cap must be at least one byte")
        if storage_quota is not None and storage_quota < 1:
            raise ValueError("the storage quota must be at least one byte")
        if min(max_image_pixels, max_image_frames, max_animation_pixels) < 1:
            raise ValueError("the image budgets must be at least one")
        return cls(
            max_upload_size=max_upload_size,
            storage_quota=storage_quota,
            kinds=_kinds(images, documents, videos),
            max_image_pixels=max_image_pixels,
            max_image_frames=max_image_frames,
            max_animation_pixels=max_animation_pixels,
        )

    def extension_of(self, original_name: str) -> str:
        """The allowed, lower-cased extension of a client's file name, or UnsupportedMediaType."""
        stem, dot, ext = original_name.rpartition(".")
        ext = ext.lower()
        if not dot or not stem.strip() or ext not in self.kinds:
            allowed = ", ".join(f".{e}" for e in sorted(self.kinds))
            raise UnsupportedMediaType(f"'{original_name}' is not an allowed file type (allowed: {allowed}).")
        return ext

    def admit(self, original_name: str, sniffed: str | None) -> Admission:
        """Check what the first bytes are against what the name claims."""
        ext = self.extension_of(original_name)
        if sniffed not in ACCEPTED_SIGNATURES[ext]:
            found = f"a {sniffed} file" if sniffed else "not recognisable as one"
            raise UnsupportedMediaType(f"The file is named .{ext} but its content is {found}.")
        content_type = sniffed if sniffed is not None else TEXT_CONTENT_TYPE
        return Admission(extension=ext, kind=self.kinds[ext], content_type=content_type)

    def check_size(self, original_name: str, size: int) -> None:
        """Raises FileTooLarge when a file of `size` bytes passes the upload cap."""
        if size > self.max_upload_size:
            raise FileTooLarge(f"'{original_name}' is larger than the {self.max_upload_size:,}-byte limit.")

    def check_quota(self, stored: int, adding: int) -> None:
        """Raises QuotaExceeded when `adding` bytes beside the uploader's `stored` ones pass the quota."""
        if self.storage_quota is not None and stored + adding > self.storage_quota:
            raise QuotaExceeded(
                f"This upload would pass your storage quota of {self.storage_quota:,} bytes: "
                "delete some files first."
            )

    def check_image_budget(self, *, width: int, height: int, frames: int = 1) -> None:
        """Raises ImageTooLarge when decoding an image of this header would pass the budget: its
        frames' size, their number, or all their pixels together. Called before decoding anything."""
        pixels = width * height
        if pixels > self.max_image_pixels:
            raise ImageTooLarge(
                f"The image is {width:,} x {height:,} pixels; at most {self.max_image_pixels:,} "
                "pixels are accepted."
            )
        if frames > self.max_image_frames:
            raise ImageTooLarge(
                f"The animation has more than {self.max_image_frames:,} frames; "
                f"at most {self.max_image_frames:,} are accepted."
            )
        if pixels * frames > self.max_animation_pixels:
            raise ImageTooLarge(
                f"The animation's {frames:,} frames hold {pixels * frames:,} pixels together; "
                f"at most {self.max_animation_pixels:,} are accepted."
            )


def is_inline(extension: str) -> bool:
    return extension in INLINE_EXTENSIONS


def display_name(original_name: str, extension: str) -> str:
    """The client's file name made safe to show and to put in a header: no path, no control or bidi
    characters, no quotes, at most 255 characters, keeping its extension."""
    base = original_name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    cleaned = "".join(
        ch for ch in base if ch not in _FORBIDDEN_IN_NAME and unicodedata.category(ch)[0] != "C"
    ).strip(" .")
    if not cleaned.lower().endswith(f".{extension}") or len(cleaned) <= len(extension) + 1:
        cleaned = f"{cleaned.rsplit('.', 1)[0] or 'file'}.{extension}" if cleaned else f"file.{extension}"
    if len(cleaned) > MAX_DISPLAY_NAME:
        keep = MAX_DISPLAY_NAME - len(extension) - 1
        cleaned = f"{cleaned[:keep]}.{extension}"
    return cleaned
