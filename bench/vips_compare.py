"""Pillow or pyvips for the thumbnails: the same job (a 12 MP JPEG to a WebP of at most 320 px on its
long side, quality 80) timed with each, alternately, in one process. pyvips is not a dependency:

    uv run --frozen --with pyvips --with pyvips-binary python -m bench.vips_compare

Both shrink while decoding (libjpeg's DCT scaling: Pillow's `draft`, libvips' `shrink-on-load`), then
resize and encode; libvips' operation cache is off, so each run does the work.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time

from PIL import Image

from bench.media import phone_photo

RUNS = 15


def with_pillow(photo: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(photo))
    image.thumbnail((320, 320), Image.Resampling.LANCZOS, reducing_gap=2.0)
    image.save(io.BytesIO(), "WEBP", quality=80, method=4)
    return image.size


def main() -> int:
    try:
        import pyvips  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print("pyvips is not installed: run this with `uv run --frozen --with pyvips --with pyvips-binary`")
        return 1
    pyvips.cache_set_max(0)

    def with_vips(photo: bytes) -> tuple[int, int]:
        image = pyvips.Image.thumbnail_buffer(photo, 320, height=320, size="down")
        image.webpsave_buffer(Q=80, effort=4, keep="none")
        return int(image.width), int(image.height)

    photo = phone_photo()
    assert with_pillow(photo) == with_vips(photo) == (320, 240)
    times: dict[str, list[float]] = {"pillow": [], "pyvips": []}
    for _ in range(RUNS):  # alternately, so both meet the same neighbours on a shared machine
        for name, work in (("pillow", with_pillow), ("pyvips", with_vips)):
            started = time.perf_counter()
            work(photo)
            times[name].append((time.perf_counter() - started) * 1000)
    print(f"12 MP JPEG ({len(photo):,} bytes) -> 320 x 240 WebP, {RUNS} runs each, load {os.getloadavg()}")
    print(f"Pillow {Image.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}")
    for name, found in times.items():
        median, fastest, slowest = statistics.median(found), min(found), max(found)
        print(f"  {name:7} median {median:6.1f} ms  min {fastest:6.1f}  max {slowest:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
