"""HEIC/HEIF photos (what iPhones take) on pillow-heif: Pillow has no HEIF decoder of its own.

A HEIF is not rewritten and kept, as the other images are: few browsers show one, so it is decoded
and stored as a JPEG, which carries nothing of the original's metadata. The container is parsed
first without decoding a pixel (`open_heif` reads the primary image's size from its `ispe` box), the
budget is checked on that size, and only then is the primary image decoded. libheif applies the
container's own rotation and mirroring (`irot`, `imir`) as it decodes, and pillow-heif sets the
EXIF orientation it hands over to 1, so what comes out is upright, turned once.

Decoding runs in the image processor's worker thread, one of the bounded `MediaWorkers`, on that
thread alone: libheif would decode an iPhone's 512 px tiles on 4 threads of its own, taking the core
the workers leave to the event loop (a single-image 12 MP HEIC decodes as fast either way here:
bench/heic.py). libheif's own security limits (its largest image, most tiles and items) stay on.
"""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image

from domain.errors import UnsupportedMediaType
from domain.policy import MediaPolicy

JPEG_CONTENT_TYPE = "image/jpeg"
JPEG_EXTENSION = "jpg"
# HEVC has no quantisation tables a JPEG could reuse, so "the original's quality" is a choice: 90
# keeps a phone photo visually the same as its HEIC (no blocking or ringing in skies and skin) at
# about twice the HEIC's bytes, where 95 would double them again for nothing one sees.
JPEG_QUALITY = 90
# The original's chroma subsampling, kept: an iPhone's 4:2:0 loses nothing more as a JPEG's 4:2:0.
_SUBSAMPLING = {420: "4:2:0", 422: "4:2:2", 444: "4:4:4"}
pillow_heif.options.DECODE_THREADS = 1  # pillow-heif's own setting; nothing else here decodes HEIF

# What pillow-heif raises for a file libheif cannot parse or decode (its own errors are these).
_UNREADABLE = (ValueError, RuntimeError, OSError, SyntaxError, EOFError)


def decode_upright(data: bytes, policy: MediaPolicy) -> tuple[Image.Image, str]:
    """The primary image, decoded and upright, and the JPEG subsampling that matches its chroma.
    ImageTooLarge before any decoding when its header passes the budget; UnsupportedMediaType when
    libheif cannot read it (a damaged HEIF is refused, not kept: kept, it would keep its EXIF)."""
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    except _UNREADABLE as exc:
        raise UnsupportedMediaType(f"The file is not a readable HEIF image: {exc}.") from None
    width, height = heif.size  # as displayed: libheif reports the size after irot
    policy.check_image_budget(width=width, height=height)
    try:
        image = heif.to_pillow()
        image.load()
    except _UNREADABLE as exc:
        raise UnsupportedMediaType(f"The HEIF image does not decode: {exc}.") from None
    if image.size != (width, height):  # the budget held for the size the header claimed
        raise UnsupportedMediaType("The HEIF image decodes to another size than its header says.")
    chroma = heif.info.get("chroma")
    return image, _SUBSAMPLING.get(chroma if isinstance(chroma, int) else 420, "4:2:0")


def to_jpeg(image: Image.Image, subsampling: str) -> bytes:
    """The image as a JPEG of its own size (never scaled), with its colour profile and nothing
    else: no EXIF, no XMP. What shows through a transparent part is drawn on white."""
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        backdrop = Image.new("RGBA", image.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(backdrop, image.convert("RGBA")).convert("RGB")
    else:
        flat = image if image.mode in ("RGB", "L") else image.convert("RGB")
    out = io.BytesIO()
    icc = image.info.get("icc_profile")
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    flat.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=subsampling, **options)
    return out.getvalue()
