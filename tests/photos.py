"""Real photos and videos for the media-processing tests, made here: Pillow writes JPEGs with GPS in
their EXIF (as a phone does), PNGs and WebPs with text, EXIF and XMP, animations; ffmpeg, where it
is installed, a two-second video.

Every picture is split into a red left part and a blue right part (a quarter of the width), so a
test can tell from the pixels which way it was turned.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from PIL import Image

# Where Berlin's television tower stands, in the EXIF's degrees, minutes and seconds.
LATITUDE = (52.0, 31.0, 15.0)
LONGITUDE = (13.0, 24.0, 33.0)
GPS_IFD = 0x8825
ORIENTATION = 0x0112
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.25N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
RED, BLUE = (220, 30, 30), (30, 30, 220)

FFMPEG = shutil.which("ffmpeg")
NO_FFMPEG = "ffmpeg is not installed (apt-get install ffmpeg): no video can be made or read"


def picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Red, with its right quarter blue."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(BLUE, (width * 3 // 4, 0, width, height))
    return image.convert(mode)


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", LATITUDE, "E", LONGITUDE
    return exif


def jpeg(width: int = 400, height: int = 300, *, orientation: int = 1, gps: bool = True) -> bytes:
    """A photo as a phone writes it: EXIF with the place it was taken, XMP, a comment."""
    out = io.BytesIO()
    exif = phone_exif(orientation) if gps else Image.Exif()
    picture(width, height).save(out, "JPEG", quality=90, exif=exif, xmp=XMP, comment=b"taken at home")
    return out.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Location", "52.5208 N, 13.4094 E")
    text.add_text("Comment", "a long comment " * 20, zip=True)
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    picture(width, height).save(out, "PNG", pnginfo=text, exif=phone_exif())
    return out.getvalue()


def webp(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    picture(width, height).save(out, "WEBP", exif=phone_exif(), xmp=XMP, quality=90)
    return out.getvalue()


def frames(count: int, width: int, height: int) -> list[Image.Image]:
    return [
        picture(width, height) if i % 2 == 0 else Image.new("RGB", (width, height), BLUE)
        for i in range(count)
    ]


def animated_gif(count: int = 4, width: int = 48, height: int = 32) -> bytes:
    out = io.BytesIO()
    first, *rest = frames(count, width, height)
    first.save(out, "GIF", save_all=True, append_images=rest, duration=100, loop=0, comment=b"hello")
    return out.getvalue()


def animated_webp(count: int = 4, width: int = 48, height: int = 32) -> bytes:
    out = io.BytesIO()
    first, *rest = frames(count, width, height)
    first.save(
        out, "WEBP", save_all=True, append_images=rest, duration=100, loop=0, exif=phone_exif(), xmp=XMP
    )
    return out.getvalue()


def has_gps(data: bytes) -> bool:
    """Whether the bytes still say where the photo was taken, in any form Pillow or a person finds."""
    with Image.open(io.BytesIO(data)) as image:
        if image.getexif().get_ifd(GPS_IFD):
            return True
    return b"GPS" in data or b"52,31" in data or b"52.5208" in data


def video(path: Path, *, seconds: int = 2, width: int = 320, height: int = 240) -> bytes:
    """A test-pattern MP4 (MPEG-4 part 2, ffmpeg's own encoder), made by ffmpeg."""
    assert FFMPEG is not None, NO_FFMPEG
    subprocess.run(
        [
            FFMPEG, "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size={width}x{height}:rate=25",
            "-c:v", "mpeg4", "-pix_fmt", "yuv420p", "-metadata", "location=+52.5208+013.4094/",
            str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path.read_bytes()


def side_colours(image: Image.Image) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The colour near the middle of the left edge and of the right edge."""
    rgb = image.convert("RGB")
    middle = rgb.height // 2
    return rgb.getpixel((1, middle)), rgb.getpixel((rgb.width - 2, middle))  # type: ignore[return-value]


def top_bottom_colours(image: Image.Image) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rgb = image.convert("RGB")
    centre = rgb.width // 2
    return rgb.getpixel((centre, 1)), rgb.getpixel((centre, rgb.height - 2))  # type: ignore[return-value]


def near(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour[:3], expected, strict=True))
