"""A real browser loads media from signed URLs with no Authorization header: an `<img>` shows the
photo at its width, a `<video>` plays and seeks to its middle through Range requests (206). The
page stands on the service's own origin, as the web client does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import photos
from tests.browser import chromium
from tests.databases import unavailable
from tests.integration.http_fixtures import SECRET, bearer
from tests.integration.server_process import running_server

pytestmark = pytest.mark.server

PAGE = "/__browser-test__"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


def webm(path: Path, seconds: int = 6) -> bytes:
    """A VP8 test pattern with a keyframe every second, so a seek lands on one."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        unavailable("ffmpeg is not installed (apt-get install ffmpeg): the browser's video test")
    subprocess.run(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=320x240:rate=25",
            "-c:v", "libvpx", "-b:v", "1M", "-g", "25", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path.read_bytes()


def shared_with_bob(base: str, files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """alice posts the files in a group with bob; what bob's client lists (signed for bob)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        group = client.post(
            "/api/v1/conversations",
            json={"kind": "group", "title": "t", "member_ids": ["bob"]},
            headers=bearer("alice"),
        ).json()
        message = client.post(
            f"/api/v1/conversations/{group['id']}/messages", json={"content": "look"}, headers=bearer("alice")
        ).json()
        r = client.post(
            "/api/v1/media/upload",
            data={"message_id": message["id"]},
            files=[("file", (name, body, "application/octet-stream")) for name, body in files],
            headers=bearer("alice"),
        )
        assert r.status_code == 201, r.text
        listed = client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
        return listed.json()  # type: ignore[no-any-return]


def test_a_browser_shows_a_photo_and_seeks_a_video_from_signed_urls(tmp_path: Path) -> None:
    clip = webm(tmp_path / "clip.webm")
    with (
        running_server(tmp_path, SECRET, SWEEP_INTERVAL="0", UPLOAD_RATE="0") as server,
        chromium() as browser,
    ):
        photo, video = shared_with_bob(
            server.base, [("photo.png", photos.png(640, 480)), ("clip.webm", clip)]
        )
        assert "sig=" in photo["url"]
        assert "sig=" in video["url"]
        page = browser.new_page()
        html = (
            "<!doctype html><title>signed media</title>"
            f'<img id="photo" alt="photo" src="{photo["url"]}">'
            f'<video id="clip" muted preload="metadata" src="{video["url"]}"></video>'
        )
        # The page itself is the test's, on the service's origin; every media request goes to the
        # service as the browser makes it (no header of ours added).
        page.route(
            f"{server.base}{PAGE}",
            lambda route: route.fulfill(status=200, content_type="text/html", body=html),
        )
        seen: list[tuple[str, int, str | None, str | None]] = []
        page.on(
            "response",
            lambda r: seen.append(
                (r.url, r.status, r.request.headers.get("range"), r.request.headers.get("authorization"))
            ),
        )
        page.goto(f"{server.base}{PAGE}")

        page.wait_for_function("document.getElementById('photo').complete", timeout=15_000)
        assert page.evaluate("document.getElementById('photo').naturalWidth") == 640
        page.wait_for_function("document.getElementById('clip').readyState >= 1", timeout=15_000)
        duration = page.evaluate("document.getElementById('clip').duration")
        assert 5 <= duration <= 7
        seeked = page.evaluate(
            """() => new Promise((resolve, reject) => {
                const v = document.getElementById('clip');
                v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
                const failed = () => reject(new Error('video error ' + v.error?.code));
                v.addEventListener('error', failed, {once: true});
                v.currentTime = v.duration / 2;
            })"""
        )
        assert abs(seeked - duration / 2) < 0.5
        page.wait_for_function("document.getElementById('clip').readyState >= 2", timeout=15_000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "signed-urls.png"))
        page.close()

    video_path = video["url"].partition("?")[0]
    video_answers = [(status, asked) for url, status, asked, _ in seen if video_path in url]
    assert (206, None) not in video_answers
    assert any(
        status == 206 and asked is not None and asked.startswith("bytes=") for status, asked in video_answers
    )
    assert all(auth is None for *_, auth in seen)  # nothing but the URL carried a credential
    assert [status for url, status, *_ in seen if photo["url"].partition("?")[0] in url] == [200]
    assert "sig=" not in server.log.read_text(errors="replace")
