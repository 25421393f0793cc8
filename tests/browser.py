"""Debian's Chromium driven by Playwright (Python), for the tests that need a real browser.

Playwright's own browser download cannot be reached here, so the tests launch the system's
`chromium` (`.ci/run` installs it with apt). Without it, or without the `playwright` package, the
tests skip, and fail under CI=true (tests.databases.unavailable)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tests.databases import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# As root (CI runs so) Chromium needs --no-sandbox; the rest keep it from calling out to the
# network this machine does not have (each refused connection costs start-up time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed (with its processes) however the test ends."""
    if CHROMIUM is None:
        unavailable("Chromium is not installed (apt-get install chromium): the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (uv sync): the browser tests")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
