"""HEIC photos and previews: what a 12 MP iPhone photo costs to process, beside a 12 MP JPEG.

    python -m bench.heic          (or: make bench-heic)

In this process, `RUNS` times each (after one warm run), median and spread, on one worker thread
as the service runs them:
- the 12 MP (4032 x 3024, an iPhone's) photo as a HEIC, as pillow-heif's x265 writes it at quality
  60 (about an iPhone's bytes per pixel): decoded alone (libheif), and the whole job as an upload
  gets it (decode, JPEG at quality 90, the 1600 px WebP preview, the thumbnail and BlurHash);
- the same photo as a 12 MP JPEG (quality 90, EXIF with GPS): the whole job (container rewrite,
  preview, thumbnail and BlurHash), the peer;
- what the preview adds: from the JPEG, the thumbnail alone (DCT-scaled decode) against the
  preview and the thumbnail made from it (a full decode, a 1600 px resize, a WebP).

Results go to bench/results/heic.json. The machine is shared: the load average is recorded.
"""

from __future__ import annotations

import io
import json
import os
import sys

import pillow_heif
from PIL import Image

from adapters.media_pillow import PillowImageProcessor, make_renditions, make_thumbnail
from adapters.media_workers import MediaWorkers
from bench.media import phone_photo, timed
from bench.report import RESULTS
from domain.policy import MediaPolicy

RUNS = 7
WIDTH, HEIGHT = 4032, 3024
HEIC_QUALITY = 60
OUT = RESULTS.parent / "heic.json"


def heic_of(jpeg: bytes) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as image:
        exif = image.getexif()
        out = io.BytesIO()
        pillow_heif.from_pillow(image).save(out, quality=HEIC_QUALITY, exif=exif.tobytes())
    return out.getvalue()


def main() -> int:
    processor = PillowImageProcessor(MediaPolicy(), MediaWorkers(1))
    jpeg = phone_photo(WIDTH, HEIGHT)
    heic = heic_of(jpeg)
    converted = processor.process_bytes(heic, "HEIF")
    processed_jpeg = processor.process_bytes(jpeg, "JPEG")
    assert converted.content is not None
    assert converted.preview is not None
    assert processed_jpeg.preview is not None
    print(f"12 MP: HEIC {len(heic):,} bytes, JPEG {len(jpeg):,} bytes; timing x{RUNS} each ...", flush=True)
    results: dict[str, object] = {
        "machine": {
            "cores": os.cpu_count(),
            "loadavg_at_start": os.getloadavg(),
            "python": sys.version.split()[0],
        },
        "pillow": Image.__version__,
        "pillow_heif": pillow_heif.__version__,
        "libheif": pillow_heif.libheif_info().get("libheif"),
        "size": [WIDTH, HEIGHT],
        "bytes": {
            "heic": len(heic),
            "heic_stored_as_jpeg": len(converted.content),
            "jpeg": len(jpeg),
            "preview_webp": len(processed_jpeg.preview),
            "thumbnail_webp": len(processed_jpeg.thumbnail or b""),
        },
        "heic_decode_only": timed(lambda: pillow_heif.open_heif(io.BytesIO(heic)).to_pillow().load(), RUNS),
        "heic_whole_job": timed(lambda: processor.process_bytes(heic, "HEIF"), RUNS),
        "jpeg_whole_job": timed(lambda: processor.process_bytes(jpeg, "JPEG"), RUNS),
        "jpeg_thumbnail_only": timed(lambda: make_thumbnail(Image.open(io.BytesIO(jpeg))), RUNS),
        "jpeg_preview_and_thumbnail": timed(lambda: make_renditions(Image.open(io.BytesIO(jpeg))), RUNS),
    }
    results["machine"]["loadavg_at_end"] = os.getloadavg()  # type: ignore[index]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n12 MP ({WIDTH} x {HEIGHT}), median of {RUNS} (min, max):")
    for name in (
        "heic_decode_only",
        "heic_whole_job",
        "jpeg_whole_job",
        "jpeg_thumbnail_only",
        "jpeg_preview_and_thumbnail",
    ):
        figures = results[name]  # type: ignore[index]
        print(
            f"  {name:28} {figures['median_ms']:7.1f} ms  (min {figures['min_ms']}, max {figures['max_ms']})"
        )  # type: ignore[index]
    print(f"  bytes: {results['bytes']}")
    print(f"\nload average: {results['machine']}\nJSON: {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
