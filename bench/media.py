"""Media processing: what a 12-megapixel photo costs, and what processing does to other requests.

    python -m bench.media          (or: make bench-media)

1. In this process: the 12 MP phone photo (4000 x 3000, EXIF with GPS) processed as an upload is,
   `RUNS` times, median and spread: the thumbnail alone (decode at reduced size, resize, WebP), the
   whole job (container rewrite without metadata + thumbnail + BlurHash), and the whole job for the
   same photo taken in portrait (EXIF orientation 6: decoded whole, turned, re-encoded).
2. Against the service as a process (granian, one worker, MEDIA_WORKERS as configured): the
   latency of `GET /api/v1/media/message/{id}` from one client sending one request after another,
   first alone, then while `UPLOADERS` clients upload 12 MP photos back to back, then (the
   baseline: the same upload path without processing) while they upload PDFs of the same size.

Results go to bench/results/media.json. The machine is shared: the load average is recorded.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image
from tests.samples import sample

from adapters.media_pillow import PillowImageProcessor, make_thumbnail
from adapters.media_workers import MediaWorkers
from bench.report import RESULTS
from bench.service import Api, Service, start_service
from domain.policy import MediaPolicy

RUNS = 9
LATENCY_SECONDS = 15.0
UPLOADERS = 2
TARGET_THUMBNAIL_MS = 150.0
OUT = RESULTS.parent / "media.json"


def phone_photo(width: int = 4000, height: int = 3000, orientation: int = 1) -> bytes:
    """A photo-like 12 MP JPEG (smooth gradients with grain, so it compresses as photos do, ~3 MB),
    with the EXIF a phone writes: where, with what, which way up."""
    grain = Image.effect_noise((width // 4, height // 4), 60).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    gradient = Image.linear_gradient("L").resize((width, height))
    red = Image.blend(grain, gradient, 0.5)
    green = gradient.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    blue = Image.effect_noise((width, height), 20)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "PhoneMaker", "Phone 15", orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 15.0), "E", (13.0, 24.0, 33.0)
    out = io.BytesIO()
    Image.merge("RGB", (red, green, blue)).save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def timed(work: Callable[[], object], runs: int = RUNS) -> dict[str, float]:
    work()  # warm: imports, caches, the first allocation of big buffers
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
        "runs": runs,
    }


def thumbnail_times(photo: bytes, portrait: bytes) -> dict[str, object]:
    processor = PillowImageProcessor(MediaPolicy(), MediaWorkers(1))
    return {
        "photo_bytes": len(photo),
        "thumbnail_only": timed(lambda: make_thumbnail(Image.open(io.BytesIO(photo)))),
        "whole_job": timed(lambda: processor.process_bytes(photo, "JPEG")),
        "whole_job_portrait_turned": timed(lambda: processor.process_bytes(portrait, "JPEG"), runs=5),
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return {"p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "max_ms": round(ordered[-1], 1)}


def listing_latency(service: Service, token: str, path: str, seconds: float) -> dict[str, object]:
    """One client, one request after another, for `seconds`: each request's latency."""
    latencies: list[float] = []
    errors = 0
    with httpx.Client(
        base_url=service.base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            answer = client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += answer.status_code != 200
    return {"requests": len(latencies), "errors": errors, **percentiles(latencies)}


class Uploaders:
    """`count` clients uploading `(name, data)` back to back to `message_id` until stopped."""

    def __init__(
        self, service: Service, token: str, message_id: str, file: tuple[str, bytes], count: int
    ) -> None:
        self._stop = threading.Event()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._threads = [
            threading.Thread(target=self._run, args=(service, token, message_id, file), daemon=True)
            for _ in range(count)
        ]

    def _run(self, service: Service, token: str, message_id: str, file: tuple[str, bytes]) -> None:
        with httpx.Client(
            base_url=service.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                answer = client.post(
                    "/api/v1/media/upload",
                    data={"message_id": message_id},
                    files=[("file", (*file, "application/octet-stream"))],
                )
                if answer.status_code != 201:
                    self.errors.append(f"{answer.status_code} {answer.text[:200]}")
                    return
                self.latencies.append((time.perf_counter() - started) * 1000)
                [attachment] = answer.json()
                client.delete(f"/api/v1/media/{attachment['id']}")  # keep the disk from filling

    def __enter__(self) -> Uploaders:
        for thread in self._threads:
            thread.start()
        while not self.latencies and not self.errors:  # until the first upload went through
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)


def latency_under_load(workdir: Path, photo: bytes, media_workers: str | None) -> dict[str, object]:
    if media_workers is not None:
        os.environ["MEDIA_WORKERS"] = media_workers
    try:
        service = start_service(workdir)
    finally:
        os.environ.pop("MEDIA_WORKERS", None)
    api: Api | None = None
    try:
        token = service.token("bench-alice")
        api = Api(service, token)
        conversation = api.conversation()
        listed = api.message(conversation, "three attachments")
        api.upload_small(listed, [(f"p{i}.jpg", phone_photo(640, 480)) for i in range(3)])
        uploads = api.message(conversation, "uploads")
        path = f"/api/v1/media/message/{listed}"
        listing_latency(service, token, path, 2)  # warm
        found: dict[str, object] = {
            "media_workers": media_workers or "default (cores - 1)",
            "listing_idle": listing_latency(service, token, path, LATENCY_SECONDS),
        }
        pdf = sample("pdf", size=len(photo))
        for label, file in (("photos", ("IMG_0001.JPG", photo)), ("same_size_pdfs", ("scan.pdf", pdf))):
            with Uploaders(service, token, uploads, file, UPLOADERS) as uploaders:
                found[f"listing_while_uploading_{label}"] = listing_latency(
                    service, token, path, LATENCY_SECONDS
                )
            if uploaders.errors:
                raise RuntimeError(f"an upload of {file[0]} failed: {uploaders.errors[0]}")
            found[f"uploads_of_{label}"] = {
                "done": len(uploaders.latencies),
                **percentiles(uploaders.latencies),
            }
        found["service_log_problems"] = service.log_problems()
        return found
    finally:
        if api is not None:
            api.close()
        service.stop()


def main() -> int:
    results: dict[str, object] = {
        "machine": {
            "cores": os.cpu_count(),
            "loadavg_at_start": os.getloadavg(),
            "python": sys.version.split()[0],
        },
        "pillow": Image.__version__,
    }
    photo, portrait = phone_photo(), phone_photo(orientation=6)
    print(f"12 MP photo: {len(photo):,} bytes; timing the processing x{RUNS} ...", flush=True)
    thumbnails = thumbnail_times(photo, portrait)
    results["twelve_megapixels"] = thumbnails
    with tempfile.TemporaryDirectory(prefix="chat-media-bench-media-") as workdir:
        for workers in (None, "2"):
            print(
                f"listing latency, alone and beside {UPLOADERS} uploaders (MEDIA_WORKERS={workers}) ...",
                flush=True,
            )
            key = f"latency_media_workers_{workers or 'default'}"
            results[key] = latency_under_load(Path(workdir) / key, photo, workers)
    results["machine"]["loadavg_at_end"] = os.getloadavg()  # type: ignore[index]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")

    whole = thumbnails["whole_job"]["median_ms"]  # type: ignore[index]
    print(f"\n12 MP JPEG ({len(photo):,} bytes), median of {RUNS}:")
    for name in ("thumbnail_only", "whole_job", "whole_job_portrait_turned"):
        figures = thumbnails[name]  # type: ignore[index]
        print(
            f"  {name:28} {figures['median_ms']:7.1f} ms  (min {figures['min_ms']}, max {figures['max_ms']})"
        )
    verdict = "PASS" if whole <= TARGET_THUMBNAIL_MS else "MISS"
    print(f"  target: a thumbnail under {TARGET_THUMBNAIL_MS:g} ms -> {verdict} (whole job {whole} ms)")
    for workers in ("default", "2"):
        run = results[f"latency_media_workers_{workers}"]
        print(f"\nGET /api/v1/media/message/{{id}}, MEDIA_WORKERS={run['media_workers']}:")  # type: ignore[index]
        for name in (
            "listing_idle",
            "listing_while_uploading_photos",
            "listing_while_uploading_same_size_pdfs",
        ):
            figures = run[name]  # type: ignore[index]
            print(
                f"  {name:40} p50 {figures['p50_ms']:6.1f} ms  p90 {figures['p90_ms']:6.1f}  "
                f"p99 {figures['p99_ms']:6.1f}  max {figures['max_ms']:6.1f}  "
                f"({figures['requests']} requests)"
            )
        for label in ("photos", "same_size_pdfs"):
            done = run[f"uploads_of_{label}"]  # type: ignore[index]
            print(f"  uploads of {label} meanwhile: {done['done']} (p50 {done['p50_ms']} ms each)")
    print(f"\nload average: {results['machine']}\nJSON: {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
