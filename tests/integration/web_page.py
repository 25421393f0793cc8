"""The built web client in a real browser: its build made fresh when stale (`make web`), a page
signed in as a user through the `#token=` link `make run` prints, and files handed to the page as a
person would (the file picker, or a drag and drop of real `File`s)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

from adapters.tokens import mint_token
from tests.databases import unavailable
from tests.integration.http_fixtures import SECRET

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
SCREENSHOTS = REPO / "test-results" / "screenshots"
BUILD_TIMEOUT = 300


def built_web_client() -> Path:
    """web/dist, rebuilt by `make web` when a source is newer than it (npm ci on a fresh clone)."""
    if shutil.which("npm") is None:
        unavailable("npm is not installed: the web client cannot be built for its browser tests")
    done = subprocess.run(
        ["make", "--no-print-directory", "web"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    index = WEB / "dist" / "index.html"
    if done.returncode != 0 or not index.exists():
        raise RuntimeError(f"make web failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return WEB / "dist"


def sign_in_url(base: str, user: str) -> str:
    return f"{base}/#token={mint_token(SECRET, user)}"


DROP_SCRIPT = """([selector, files]) => {
    const transfer = new DataTransfer();
    for (const f of files) {
        const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], f.name, { type: f.type }));
    }
    const target = document.querySelector(selector);
    for (const type of ["dragenter", "dragover"]) {
        const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
        target.dispatchEvent(new DragEvent(type, init));
    }
    return transfer;
}"""

DROP_FINISH = """([selector, transfer]) => {
    document.querySelector(selector).dispatchEvent(
        new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
}"""


def drag_files(page: object, selector: str, files: list[tuple[str, str, bytes]]) -> bool:
    """Drags real files over `selector` and drops them; True when the drop zone showed while dragging."""
    payload = [{"name": n, "type": t, "data": base64.b64encode(b).decode()} for n, t, b in files]
    transfer = page.evaluate_handle(DROP_SCRIPT, [selector, payload])  # type: ignore[attr-defined]
    overlay = page.locator("[data-testid=drop-overlay]")  # type: ignore[attr-defined]
    overlay.wait_for(state="visible", timeout=5_000)
    shown = bool(overlay.is_visible())
    page.evaluate(DROP_FINISH, [selector, transfer])  # type: ignore[attr-defined]
    return shown


def screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    return path
