"""The web client's weight and how soon it shows a conversation, on loopback.

- The built bundle (`make web`): each asset's size raw and gzipped (level 9, as a server's
  static gzip would send it), the page's JavaScript against the 150 KB gzip target.
- Time to the first painted message list: Debian's Chromium opens the sign-in link of a
  conversation of 50 messages (10 with a photo), and the page notes the frame in which the 50th
  message is laid out (a MutationObserver, then requestAnimationFrame), measured from navigation
  start. A fresh browser context per round (cold: nothing cached) and then the same context again
  (warm: the immutable assets cached), in turns. Beside it, the floor: the page's own
  `GET …/messages` (Resource Timing), what no client can paint before.

`make bench-web` runs it; `make bench` includes it."""

from __future__ import annotations

import gzip
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.service import REPO, Api, start_service

ROUNDS = 7
MESSAGES = 50
WITH_PHOTOS = 10
TARGET_JS_GZIP = 150 * 1024
DIST = REPO / "web" / "dist"

PAINTED = """
new MutationObserver((_, observer) => {
  if (document.querySelectorAll('li.message').length >= %d) {
    observer.disconnect();
    requestAnimationFrame(() => { window.__painted = performance.now(); });
  }
}).observe(document, { childList: true, subtree: true });
""".replace("%d", str(MESSAGES))


def bundle_sizes() -> dict[str, dict[str, int]]:
    subprocess.run(["make", "--no-print-directory", "web"], cwd=REPO, check=True, timeout=300)
    sizes = {}
    for path in sorted((DIST / "assets").iterdir()):
        data = path.read_bytes()
        sizes[path.name] = {"raw": len(data), "gzip": len(gzip.compress(data, compresslevel=9))}
    index = (DIST / "index.html").read_bytes()
    sizes["index.html"] = {"raw": len(index), "gzip": len(gzip.compress(index, compresslevel=9))}
    return sizes


def _photo(shade: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (shade, 90, 160)).save(out, "JPEG", quality=85)
    return out.getvalue()


def paint_times(workdir: Path, rounds: int = ROUNDS) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    if CHROMIUM is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    service = start_service(workdir, {"UPLOAD_RATE": "0", "SWEEP_INTERVAL": "0"})
    times: dict[str, list[float]] = {"cold": [], "warm": [], "messages GET (cold)": []}
    try:
        api = Api(service, service.token("alice"))
        conversation = api.conversation()
        for i in range(MESSAGES):
            message = api.message(conversation, f"message {i}")
            if i % (MESSAGES // WITH_PHOTOS) == 0:
                api.upload_small(message, [(f"photo{i}.jpg", _photo(i * 4))])
        api.close()
        url = f"{service.base}/#token={service.token('bob')}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                for _ in range(rounds):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    context.add_init_script(PAINTED)
                    page = context.new_page()
                    for kind in ("cold", "warm"):
                        # Warm: the same tab again, its token in sessionStorage, the assets cached.
                        page.goto(url if kind == "cold" else f"{service.base}/")
                        page.wait_for_function("() => window.__painted !== undefined", timeout=30_000)
                        times[kind].append(float(page.evaluate("window.__painted")))
                        if kind == "cold":
                            fetched = page.evaluate(
                                "performance.getEntriesByType('resource')"
                                ".filter(e => e.name.includes('/messages?')).map(e => e.responseEnd)"
                            )
                            times["messages GET (cold)"].append(float(fetched[0]))
                    context.close()
            finally:
                browser.close()
    finally:
        service.stop()
    return times


def _spread(values: list[float], unit: str, digits: int = 1) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"median {mid:.{digits}f} {unit} ({low:.{digits}f}-{high:.{digits}f})"


def report(sizes: dict[str, dict[str, int]], times: dict[str, list[float]]) -> list[str]:
    js = sum(s["gzip"] for name, s in sizes.items() if name.endswith(".js"))
    lines = ["The built bundle (web/dist), bytes raw / gzip -9:"]
    lines += [f"  {name:<28} {s['raw']:>9,} / {s['gzip']:>8,}" for name, s in sizes.items()]
    verdict = "under" if js < TARGET_JS_GZIP else "OVER"
    lines.append(f"  the page's JavaScript: {js / 1024:.1f} KiB gzip, {verdict} the 150 KiB target")
    lines.append(
        f"Time to the first painted list of {MESSAGES} messages ({WITH_PHOTOS} with a photo), "
        f"from navigation start, {len(times['cold'])} rounds in turns (Chromium, loopback):"
    )
    for name, values in times.items():
        lines.append(f"  {name:<22} {_spread(values, 'ms')}")
    return lines


def run(workdir: Path) -> dict[str, Any]:
    return {"bundle": bundle_sizes(), "paint_ms": paint_times(workdir)}


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        result = run(Path(tmp))
    print("\n".join(report(result["bundle"], result["paint_ms"])))
    print(f"({time.monotonic() - started:.0f} s)")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "web_client.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
