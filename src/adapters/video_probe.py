"""What ffprobe says of a video, read from its JSON: the picture's size as shown, the duration, and
the streams a remux keeps (with the one tag each keeps: its language)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# What ffprobe is asked for, of every stream: enough to pick the picture (not a cover image), turn
# its size by the rotation, and carry each kept stream's language over a remux.
PROBE_ENTRIES = (
    "stream=index,codec_type,width,height:stream_tags=rotate,language:stream_disposition=attached_pic"
    ":stream_side_data=rotation:format=duration"
)
KEPT_KINDS = ("video", "audio", "subtitle")  # data tracks (timed metadata, a phone's GPS) are not


class ProbeUnreadable(Exception):
    """ffprobe's answer is not what it says it writes."""


@dataclass(frozen=True, slots=True)
class KeptStream:
    index: int  # in the source
    language: str | None  # ISO 639-2, as the source tagged it; None when untagged or "und"


@dataclass(frozen=True, slots=True)
class Probe:
    width: int | None  # as shown: a rotation of 90 or 270 degrees swaps them; None: no picture
    height: int | None
    duration_s: float | None
    kept: list[KeptStream] = field(default_factory=list)


def parse_probe(output: bytes) -> Probe:
    try:
        found = json.loads(output)
    except ValueError:
        raise ProbeUnreadable("its answer is not JSON") from None
    streams = [s for s in found.get("streams") or [] if isinstance(s, dict)]
    pictures = [s for s in streams if s.get("codec_type") == "video" and not _cover(s)]
    width, height = _shown_size(pictures[0]) if pictures else (None, None)
    try:
        duration: float | None = round(float(found.get("format", {}).get("duration")), 3)
    except (TypeError, ValueError):
        duration = None
    kept = [
        KeptStream(index=s["index"], language=_language(s))
        for s in streams
        if s.get("codec_type") in KEPT_KINDS and not _cover(s) and isinstance(s.get("index"), int)
    ]
    return Probe(width=width, height=height, duration_s=duration, kept=kept)


def _cover(stream: dict[str, object]) -> bool:
    """A still picture stored as a video stream (an MP4's cover art): its own bytes may carry EXIF."""
    disposition = stream.get("disposition")
    return isinstance(disposition, dict) and disposition.get("attached_pic") == 1


def _shown_size(stream: dict[str, object]) -> tuple[int | None, int | None]:
    width, height = stream.get("width"), stream.get("height")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        return None, None
    tags = stream.get("tags")
    rotation = tags.get("rotate") if isinstance(tags, dict) else None
    side_data = stream.get("side_data_list")
    if not rotation and isinstance(side_data, list):
        rotation = next((d.get("rotation") for d in side_data if isinstance(d, dict) and "rotation" in d), 0)
    try:
        if int(float(rotation or 0)) % 180:
            return height, width
    except (TypeError, ValueError):
        pass
    return width, height


def _language(stream: dict[str, object]) -> str | None:
    tags = stream.get("tags")
    language = tags.get("language") if isinstance(tags, dict) else None
    if isinstance(language, str) and language.isascii() and language.isalpha() and language != "und":
        return language[:3].lower()
    return None
