"""Real photos and videos for the media-processing tests, made here: Pillow writes JPEGs with GPS in
their EXIF (as a phone does), pillow-heif HEICs likewise, PNGs and WebPs with text, EXIF and XMP,
animations; ffmpeg, where it is installed, a two-second video.

Every picture is split into a red left part and a blue right part (a quarter of the width), so a
test can tell from the pixels which way it was turned.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from tests import samples

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
FFPROBE = shutil.which("ffprobe")
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


def heic(width: int = 400, height: int = 300, *, orientation: int = 1, quality: int = 80) -> bytes:
    """A photo as an iPhone writes it: HEVC in HEIF, EXIF with the place and the orientation, and
    the container's own rotation (`irot`) that says the same (pillow-heif writes both)."""
    import pillow_heif

    out = io.BytesIO()
    pillow_heif.from_pillow(picture(width, height)).save(
        out, quality=quality, exif=phone_exif(orientation).tobytes(), xmp=XMP
    )
    return out.getvalue()


def heic_claiming(width: int, height: int) -> bytes:
    """A small real HEIC whose image header (`ispe`) claims width x height: what libheif would
    allocate before decoding a byte. 64 x 64, so no clean-aperture box crops the claim back."""
    import struct

    data = heic(64, 64)
    at = data.index(b"ispe")
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]


def heif_gps(data: bytes) -> bool:
    """Whether a HEIF's EXIF says where it was taken."""
    import pillow_heif

    exif = pillow_heif.open_heif(io.BytesIO(data)).info.get("exif")
    if not exif:
        return False
    parsed = Image.Exif()
    parsed.load(exif)
    return bool(parsed.get_ifd(GPS_IFD))


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


# What a phone writes into a video's container, as the tests give it to ffmpeg, and what of it must
# be gone after the upload (searched for in the stored bytes).
PHONE_TAGS = {
    "location": "+52.5208+013.4094/",
    "com.apple.quicktime.location.ISO6709": "+52.5208+013.4094+035.000/",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 15 Pro",
    "title": "Home of Alice",
}
PHONE_LEAKS = (b"52.5208", b"iPhone", b"Apple", b"Home of Alice", b"Lavf59", b"Core Media")


def phone_video(folder: Path, container: str = "mp4", *, seconds: int = 2) -> bytes:
    """A video as a phone writes one: the place, make and model in its tags, a chapter named after
    where it was shot, the audio's language (French), and for MP4/MOV the picture turned by 90
    degrees and the index (`moov`) after the frames (ffmpeg's default)."""
    assert FFMPEG is not None, NO_FFMPEG
    chapters = folder / "chapters.txt"
    chapters.write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=Home of Alice\n")
    path = folder / f"phone.{container}"
    codecs = (
        ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"]
        if container == "webm"
        else ["-c:v", "mpeg4", "-c:a", "aac"]
    )
    mp4 = container in ("mp4", "mov")
    tags = [arg for key, value in PHONE_TAGS.items() for arg in ("-metadata", f"{key}={value}")]
    made = folder / f"made.{container}" if mp4 else path
    subprocess.run(
        [
            FFMPEG, "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=640x360:rate=25",
            "-f", "lavfi", "-i", f"sine=duration={seconds}",
            "-i", str(chapters), "-map", "0", "-map", "1", "-map_chapters", "2",
            *codecs, *tags,
            "-metadata:s:a:0", "language=fra", "-metadata:s:v:0", "handler_name=Core Media Video",
            *(["-movflags", "+use_metadata_tags"] if mp4 else []),
            str(made),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    if mp4:  # ffmpeg 5.1 turns the picture only in a copy (a display matrix, as phones write it)
        subprocess.run(
            [
                # The chapter track is not copied (ffmpeg's MOV muxer refuses it); the chapters are.
                FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(made), "-map", "0:v", "-map", "0:a",
                "-c", "copy",
                "-metadata:s:v:0", "rotate=90", "-movflags", "+use_metadata_tags", str(path),
            ],
            check=True,
            timeout=60,
        )  # fmt: skip
    return path.read_bytes()


@functools.cache
def sizable_video(at_least: int) -> bytes:
    """A real MP4 of at least `at_least` bytes (its frames fill it: a remux keeps nearly all of it),
    made once per test run, for tests about serving a video rather than processing it; where
    ffmpeg is not installed, the sample MP4 of that size (kept as it came then)."""
    if FFMPEG is None:
        return samples.sample("mp4", size=at_least)
    with tempfile.TemporaryDirectory(prefix="test-video-") as folder:
        path = Path(folder) / "clip.mp4"
        seconds = 2
        while True:
            subprocess.run(
                [
                    FFMPEG, "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size=640x360:rate=25",
                    "-c:v", "mpeg4", "-b:v", "4M", "-pix_fmt", "yuv420p", str(path),
                ],
                check=True,
                timeout=60,
            )  # fmt: skip
            if path.stat().st_size >= at_least:
                return path.read_bytes()
            seconds *= 2


def probe(path: Path) -> dict[str, Any]:
    """What ffprobe says of a file's format, streams and chapters."""
    assert FFPROBE is not None, NO_FFMPEG
    answer = subprocess.run(
        [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-show_chapters", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return json.loads(answer.stdout)  # type: ignore[no-any-return]


def top_boxes(data: bytes) -> list[bytes]:
    """The kinds of an MP4/MOV's top-level boxes, in order."""
    kinds, offset = [], 0
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if length == 1:
            (length,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        kinds.append(kind)
        if length < 8:
            break
        offset += length
    return kinds


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
