"""The image `MediaProcessor` on Pillow (chosen over pyvips by measurement: see the README).

For each admitted image, in a worker thread:
1. its container is walked (`image_containers`): the size and frames its header claims are checked
   against the policy's budget before Pillow decodes anything, and the file is rewritten without
   its metadata;
2. a JPEG, PNG or WebP whose EXIF orientation is not upright is decoded, turned, and re-encoded
   (a JPEG with its own quantisation tables, so it loses next to nothing), since the tag that said
   how to turn it is gone with the rest of the EXIF;
3. the first frame is decoded at reduced size (libjpeg's DCT scaling for JPEG) into a WebP
   thumbnail of at most THUMBNAIL_MAX_SIDE pixels on its long side, and a BlurHash; a still image
   over PREVIEW_MAX_SIDE gets a WebP preview of that size first, which the thumbnail is made from.
An image that does not decode whole (truncated, damaged) is kept, rewritten, without thumbnail.
A HEIC/HEIF photo is decoded by `heif_photos` instead, upright, and stored as a JPEG (step 1 and 2
in one); its thumbnail is made as any image's.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import blurhash
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from adapters import heif_photos
from adapters.image_containers import DamagedImage, Layout, rewrite
from adapters.media_workers import MediaWorkers
from application.ports.files import MediaSource
from application.ports.media import ProcessedMedia, Stage
from domain.attachment import PREVIEW_MAX_SIDE, THUMBNAIL_MAX_SIDE
from domain.errors import ImageTooLarge, UnsupportedMediaType
from domain.policy import Admission, MediaPolicy

_FORMAT_OF = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
}
_ORIENTATION = 0x0112
_TURN = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_READ_CHUNK = 1 << 20
THUMBNAIL_QUALITY = 80
# A preview is looked at full screen, where 80's smearing of fine texture shows; 85 costs ~20% more
# bytes (a 12 MP photo's preview is ~150-300 KB against its 3-4 MB file).
PREVIEW_QUALITY = 85
# libwebp's effort: 2 encodes a 12 MP photo's 1600 px preview in ~110 ms where 4 takes ~200 ms, for
# ~2% more bytes (measured beside bench/heic.py).
PREVIEW_METHOD = 2
BLURHASH_SIDE = 32  # pixels on the long side of what the hash is computed from


@dataclass(frozen=True, slots=True)
class Thumbnail:
    webp: bytes
    blurhash: str
    preview: bytes | None = None  # the display-size WebP it was made from, for a large still image


class PillowImageProcessor:
    def __init__(self, policy: MediaPolicy, workers: MediaWorkers) -> None:
        self._policy = policy
        self._workers = workers

    async def process(self, source: MediaSource, admission: Admission, stage: Stage) -> ProcessedMedia:
        """A rewritten image is small enough to hand back as bytes: `stage` is not used."""
        image_format = _FORMAT_OF.get(admission.content_type)
        if image_format is None:
            return ProcessedMedia(note=f"{admission.content_type} is not an image this processor reads")
        data = await read_all(source)
        return await self._workers.run(self.process_bytes, data, image_format)

    def process_bytes(self, data: bytes, image_format: str) -> ProcessedMedia:
        """The whole job, synchronously: what runs in the worker thread."""
        if image_format == "HEIF":
            return self._from_heif(data)
        try:
            rewritten = rewrite(data, image_format, frame_limit=self._policy.max_image_frames)
        except DamagedImage as exc:
            raise UnsupportedMediaType(f"The file is not a readable {image_format} image: {exc}.") from None
        layout = rewritten.layout
        self._policy.check_image_budget(width=layout.width, height=layout.height, frames=layout.frames)
        assert rewritten.data is not None  # only missing past the frame limit, which was refused
        try:
            with Image.open(io.BytesIO(data), formats=[image_format]) as image:
                # The header again, as Pillow reads it: the budget holds for what it would decode.
                self._policy.check_image_budget(width=image.width, height=image.height)
                return self._finish(image, layout, rewritten.data)
        except Image.DecompressionBombError as exc:  # Pillow's own fence, past 2 x its limit
            raise ImageTooLarge(f"The image is too large to decode: {exc}") from None
        except UnidentifiedImageError:
            raise UnsupportedMediaType(f"The file is not a readable {image_format} image.") from None

    def _from_heif(self, data: bytes) -> ProcessedMedia:
        image, subsampling = heif_photos.decode_upright(data, self._policy)
        content = heif_photos.to_jpeg(image, subsampling)
        width, height = image.size
        thumbnail = make_renditions(image)
        return _processed(
            content,
            width,
            height,
            thumbnail,
            content_type=heif_photos.JPEG_CONTENT_TYPE,
            extension=heif_photos.JPEG_EXTENSION,
        )

    def _finish(self, image: Image.Image, layout: Layout, stripped: bytes) -> ProcessedMedia:
        orientation = _orientation(image)
        if orientation in _TURN and layout.frames == 1:
            try:
                upright = image.transpose(_TURN[orientation])
                width, height = upright.size
                content = _encode_like(image, upright, layout)
                thumbnail = make_renditions(upright)
            except (OSError, ValueError, SyntaxError) as exc:
                return ProcessedMedia(
                    content=stripped,
                    width=layout.width,
                    height=layout.height,
                    note=f"the image does not decode whole, so it was neither turned nor thumbnailed: {exc}",
                )
            turned = rewrite(content, image.format or "", frame_limit=1).data or content
            return _processed(turned, width, height, thumbnail)
        # An animation with an orientation tag (rare) keeps its frames as they are: it loses the tag.
        width, height = image.size
        try:
            thumbnail = make_renditions(image, layout.frames)
        except (OSError, ValueError, SyntaxError) as exc:
            return ProcessedMedia(
                content=stripped,
                width=layout.width,
                height=layout.height,
                note=f"no thumbnail: the image does not decode whole ({exc})",
            )
        return _processed(stripped, width, height, thumbnail)


def _processed(
    content: bytes,
    width: int,
    height: int,
    thumbnail: Thumbnail,
    *,
    content_type: str | None = None,
    extension: str | None = None,
) -> ProcessedMedia:
    return ProcessedMedia(
        content=content,
        content_type=content_type,
        extension=extension,
        thumbnail=thumbnail.webp,
        preview=thumbnail.preview,
        width=width,
        height=height,
        blurhash=thumbnail.blurhash,
    )


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, struct.error):  # EXIF that does not parse: upright
        return 1
    return value if isinstance(value, int) else 1


def _encode_like(source: Image.Image, upright: Image.Image, layout: Layout) -> bytes:
    """`upright` in the format of `source`, without any metadata but its colour profile."""
    out = io.BytesIO()
    icc = source.info.get("icc_profile")
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if source.format == "JPEG":
        assert isinstance(source, JpegImagePlugin.JpegImageFile)
        sampling = JpegImagePlugin.get_sampling(source)
        upright.save(
            out,
            "JPEG",
            qtables=source.quantization,
            subsampling=sampling if sampling != -1 else "4:2:0",
            **options,
        )
    elif source.format == "WEBP":
        upright.save(out, "WEBP", lossless=layout.lossless, quality=100 if layout.lossless else 90, **options)
    else:
        upright.save(out, source.format or "PNG", **options)
    return out.getvalue()


def make_renditions(image: Image.Image, frames: int = 1) -> Thumbnail:
    """The thumbnail, and for a still image over PREVIEW_MAX_SIDE on its long side a WebP preview of
    at most that (never scaled up); the thumbnail is then made from the preview, a sixth of a 12 MP
    photo's pixels to scale again. An animation gets no preview: a still of it would stop it in
    the lightbox. Changes `image` in place; raises OSError when it cannot decode."""
    if frames > 1 or max(image.size) <= PREVIEW_MAX_SIDE:
        return make_thumbnail(image)
    scale = PREVIEW_MAX_SIDE / max(image.size)
    # A JPEG not decoded yet is decoded by libjpeg at the smallest DCT scale still at least the
    # preview's size (a 12 MP photo at 1/2: a quarter of the pixels to decode and resize); later
    # `draft` calls, `thumbnail`'s own, keep it. Anything else, or a decoded image, ignores it.
    image.draft(None, (round(image.width * scale), round(image.height * scale)))
    image.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    icc = image.info.get("icc_profile")  # kept, unlike a thumbnail's: a preview is looked at
    out = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    _webp_ready(image).save(out, "WEBP", quality=PREVIEW_QUALITY, method=PREVIEW_METHOD, **options)
    thumbnail = make_thumbnail(image)
    return Thumbnail(webp=thumbnail.webp, blurhash=thumbnail.blurhash, preview=out.getvalue())


def make_thumbnail(image: Image.Image) -> Thumbnail:
    """A WebP of the image's current frame as it stands (turned upright already), at most
    THUMBNAIL_MAX_SIDE on its long side, and its BlurHash. Decodes at reduced size where the format
    can (JPEG's DCT scaling); raises OSError when it cannot decode. Changes `image` in place."""
    image.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    small = _webp_ready(image)
    out = io.BytesIO()
    small.save(out, "WEBP", quality=THUMBNAIL_QUALITY, method=4)
    return Thumbnail(webp=out.getvalue(), blurhash=_blurhash(small))


def _webp_ready(image: Image.Image) -> Image.Image:
    """The image in a mode WebP takes: RGB, or RGBA where it has transparency."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if image.mode.startswith("I"):  # 16- and 32-bit greyscale: scaled down to 8 bits first
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGBA" if has_alpha else "RGB")


def _blurhash(image: Image.Image) -> str:
    small = image.copy()
    small.thumbnail((BLURHASH_SIDE, BLURHASH_SIDE), Image.Resampling.BILINEAR)
    if small.mode == "RGBA":  # BlurHash has no alpha: what shows through is drawn on white
        backdrop = Image.new("RGBA", small.size, (255, 255, 255, 255))
        small = Image.alpha_composite(backdrop, small)
    small = small.convert("RGB")
    width, height = small.size
    pixels = list(small.get_flattened_data())
    rows = [pixels[y * width : (y + 1) * width] for y in range(height)]
    x_components, y_components = (4, 3) if width >= height else (3, 4)
    return str(blurhash.encode(rows, x_components, y_components))


async def read_all(source: MediaSource) -> bytes:
    """The source's bytes (an image is at most the upload cap: 50 MB by default)."""
    parts = [chunk async for chunk in source.read(0, source.size, _READ_CHUNK)]
    return b"".join(parts)
