"""The web client as people use it, in Debian's Chromium against the real service (granian, a
scratch SQLite and uploads folder): two users in two browser contexts, files dragged and picked,
progress, live delivery, the lightbox, a video that seeks, a download, refusals in sentences, a
large file over tus that survives a cut connection and a reload, no layout shift, no serious
accessibility violation. Screenshots go to test-results/screenshots (not committed)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import photos
from tests.browser import chromium
from tests.integration.http_fixtures import SECRET, bearer
from tests.integration.server_process import Server, running_server
from tests.integration.test_browser_signed_urls import webm
from tests.integration.web_page import WEB, built_web_client, drag_files, screenshot, sign_in_url
from tests.samples import sample

pytestmark = pytest.mark.server

expect: Any = None  # playwright.sync_api.expect, imported once Chromium is known to be there
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def web_dist() -> Path:
    return built_web_client()


@contextmanager
def service_and_browser(tmp_path: Path, **env: str) -> Iterator[tuple[Server, Any]]:
    global expect
    with (
        running_server(tmp_path, SECRET, SWEEP_INTERVAL="0", UPLOAD_RATE="0", **env) as server,
        chromium() as browser,
    ):
        from playwright.sync_api import expect as playwright_expect

        playwright_expect.set_options(timeout=TIMEOUT_MS)
        expect = playwright_expect
        yield server, browser


def group_of(server: Server, owner: str, *members: str, title: str = "Holiday") -> dict[str, Any]:
    answer = httpx.post(
        f"{server.base}/api/v1/conversations",
        json={"kind": "group", "title": title, "member_ids": list(members)},
        headers=bearer(owner),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def newest_message(server: Server, user: str, conversation: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.base}/api/v1/conversations/{conversation}/messages?limit=1",
        headers=bearer(user),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()[0]  # type: ignore[no-any-return]


def signed_in(browser: Any, server: Server, user: str, **context: Any) -> Any:
    page = browser.new_context(accept_downloads=True, **context).new_page()
    page.goto(sign_in_url(server.base, user))
    expect(page.get_by_role("status")).to_have_text("Live")
    return page


def test_alice_sends_three_files_and_bob_sees_them_live_opens_plays_and_downloads(
    tmp_path: Path, web_dist: Path
) -> None:
    clip = webm(tmp_path / "clip.webm")
    photo = photos.jpeg(1200, 800)
    pdf = sample("pdf", 20_000)
    with service_and_browser(tmp_path) as (server, browser):
        group_of(server, "alice", "bob")
        alice = signed_in(browser, server, "alice", viewport={"width": 1200, "height": 800})
        assert "token" not in alice.url  # dropped from the address bar once kept for the tab
        bob = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 800}).new_page()
        # bob's thumbnails are held until the test lets them go: the box before and after its bytes.
        held: list[Any] = []
        bob.route(re.compile(r"/thumbnail\?"), lambda route: held.append(route))
        answers: list[tuple[str, int, str | None]] = []
        bob.on("response", lambda r: answers.append((r.url, r.status, r.request.headers.get("range"))))
        bob.goto(sign_in_url(server.base, "bob"))
        expect(bob.get_by_role("status")).to_have_text("Live")

        assert drag_files(
            alice,
            ".drop-zone",
            [
                ("beach.jpg", "image/jpeg", photo),
                ("report.pdf", "application/pdf", pdf),
                ("clip.webm", "video/webm", clip),
            ],
        )
        tray = alice.get_by_role("list", name="Files to send")
        for name in ("beach.jpg", "report.pdf", "clip.webm"):
            bar = tray.get_by_role("listitem", name=name).get_by_role("progressbar")
            expect(bar).to_have_attribute("aria-valuenow", "100")
        expect(tray.get_by_text("Uploaded")).to_have_count(3)
        screenshot(alice, "1-alice-tray")
        alice.get_by_role("textbox", name="Message").fill("from the beach")
        alice.get_by_role("button", name="Send").click()
        expect(tray).to_have_count(0)

        message = bob.locator("li.message", has_text="from the beach")
        expect(message.get_by_role("button", name="Open beach.jpg")).to_be_visible()
        expect(message.get_by_role("link", name="Download report.pdf")).to_be_visible()
        expect(message.get_by_text("20 KB · PDF document")).to_be_visible()
        box = message.get_by_test_id("blur-box").first
        before = box.bounding_box()
        assert box.evaluate("e => getComputedStyle(e).backgroundImage").startswith('url("data:image/png')
        assert before["width"] == pytest.approx(before["height"] * 1.5, abs=1)  # 1200 x 800
        expect(bob.locator("li.message", has_text="from the beach").locator("video")).to_have_count(1)
        bob.wait_for_timeout(200)
        assert held, "the thumbnail was asked for"
        for route in held:
            route.continue_()
        bob.unroute(re.compile(r"/thumbnail\?"))
        thumbnail = message.get_by_role("img", name="beach.jpg")
        expect(thumbnail).to_have_class("loaded")
        assert box.bounding_box() == before  # no layout shift when the bytes arrive
        screenshot(bob, "2-bob-conversation")

        message.get_by_role("button", name="Open beach.jpg").click()
        dialog = bob.get_by_role("dialog")
        expect(dialog).to_have_accessible_name(re.compile(r"beach\.jpg \(1 of 2\)"))
        full = dialog.get_by_role("img", name="beach.jpg")
        bob.wait_for_function("e => e.complete && e.naturalWidth === 1200", arg=full.element_handle())
        screenshot(bob, "3-bob-lightbox")
        bob.keyboard.press("ArrowRight")
        expect(dialog).to_have_accessible_name(re.compile(r"clip\.webm \(2 of 2\)"))
        video = dialog.locator("video")
        video.evaluate(
            "v => new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r))"
        )
        seeked = video.evaluate(
            """v => new Promise((resolve, reject) => {
                v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
                const failed = () => reject(new Error('video error ' + v.error?.code));
                v.addEventListener('error', failed, {once: true});
                v.currentTime = v.duration / 2;
            })"""
        )
        assert 2.0 <= seeked <= 4.0
        bob.wait_for_function("v => !v.paused || v.readyState >= 2", arg=video.element_handle())
        screenshot(bob, "4-bob-video")
        bob.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(message.get_by_role("button", name="Open beach.jpg")).to_be_focused()

        with bob.expect_download() as download:
            message.get_by_role("link", name="Download report.pdf").click()
        assert download.value.suggested_filename == "report.pdf"
        assert Path(download.value.path()).read_bytes() == pdf

        # alice deletes the PDF, then the whole message, from her page (each after a confirm);
        # bob's page follows live.
        alice.on("dialog", lambda dialog: dialog.accept())
        mine = alice.locator("li.message", has_text="from the beach")
        mine.get_by_role("button", name="Delete report.pdf").click()
        expect(message.get_by_role("link", name="Download report.pdf")).to_have_count(0)
        expect(message.get_by_role("button", name="Open beach.jpg")).to_be_visible()
        mine.get_by_role("button", name="Delete message").click()
        expect(message).to_have_count(0)
        expect(mine).to_have_count(0)

    clip_answers = [(status, asked) for url, status, asked in answers if ".webm" in url]
    assert any(status == 206 and (asked or "").startswith("bytes=") for status, asked in clip_answers)


def test_refused_files_say_why_and_the_others_go_on(tmp_path: Path, web_dist: Path) -> None:
    files = tmp_path / "picked"
    files.mkdir()
    (files / "notes.txt").write_bytes(b"a plain note\n")
    (files / "tool.exe").write_bytes(b"MZ\x90\x00")
    (files / "fake.png").write_bytes(b"this is text pretending to be a picture\n")
    with service_and_browser(tmp_path, MAX_UPLOAD_SIZE="1048576") as (server, browser):
        group = group_of(server, "alice", "bob")
        alice = signed_in(browser, server, "alice")
        (files / "huge.pdf").write_bytes(sample("pdf", 1_572_864))
        alice.get_by_label("Attach files").set_input_files(
            [str(files / n) for n in ("notes.txt", "tool.exe", "fake.png", "huge.pdf")]
        )
        tray = alice.get_by_role("list", name="Files to send")
        exe = tray.get_by_role("listitem", name="tool.exe")
        expect(exe.get_by_role("alert")).to_contain_text(".exe files are not accepted. Allowed:")
        expect(exe.get_by_role("alert")).to_contain_text(".pdf")
        huge = tray.get_by_role("listitem", name="huge.pdf")
        expect(huge.get_by_role("alert")).to_have_text("The file is 1.5 MB; the limit is 1.0 MB.")
        fake = tray.get_by_role("listitem", name="fake.png")
        expect(fake.get_by_role("alert")).to_contain_text("not")  # the service's own sentence (415)
        expect(fake.get_by_role("button", name="Retry fake.png")).to_be_visible()
        expect(tray.get_by_role("listitem", name="notes.txt").get_by_text("Uploaded")).to_be_visible()
        screenshot(alice, "5-alice-refusals")
        sentence = fake.get_by_role("alert").inner_text()
        fake.get_by_role("button", name="Remove fake.png").click()
        alice.get_by_role("button", name="Send").click()
        expect(tray).to_have_count(0)
        sent = newest_message(server, "bob", group["id"])
        assert [a["original_name"] for a in sent["attachments"]] == ["notes.txt"]
    assert "415" not in sentence
    assert len(sentence) > 20


PASTE_SCRIPT = """([selector, data]) => {
    const transfer = new DataTransfer();
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
    document.querySelector(selector).dispatchEvent(
        new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
}"""


def test_a_pasted_image_and_a_large_photo_compressed_unless_asked_for_the_original(
    tmp_path: Path, web_dist: Path
) -> None:
    import base64

    big = tmp_path / "panorama.jpg"
    big.write_bytes(photos.jpeg(4000, 1000))
    with service_and_browser(tmp_path) as (server, browser):
        group = group_of(server, "alice", "bob")
        alice = signed_in(browser, server, "alice")
        tray = alice.get_by_role("list", name="Files to send")
        expect(alice.get_by_role("textbox", name="Message")).to_be_visible()
        alice.evaluate(PASTE_SCRIPT, ["textarea", base64.b64encode(photos.png(80, 60)).decode()])
        expect(tray.get_by_role("listitem", name="pasted.png").get_by_text("Uploaded")).to_be_visible()
        alice.get_by_label("Attach files").set_input_files(str(big))
        card = tray.get_by_role("listitem", name="panorama.jpg")
        expect(card.get_by_text("Uploaded")).to_be_visible()
        expect(card).to_contain_text("compressed from")
        alice.get_by_role("button", name="Send").click()
        expect(tray).to_have_count(0)
        sent = newest_message(server, "bob", group["id"])
        assert [(a["original_name"], a["width"], a["height"]) for a in sent["attachments"]] == [
            ("pasted.png", 80, 60),
            ("panorama.jpg", 2560, 640),  # never past 2560 px on its long side, the ratio kept
        ]
        alice.get_by_label("Original quality").check()
        alice.get_by_label("Attach files").set_input_files(str(big))
        expect(card.get_by_text("Uploaded")).to_be_visible()
        expect(card).not_to_contain_text("compressed from")
        alice.get_by_role("button", name="Send").click()
        expect(tray).to_have_count(0)
        (original,) = newest_message(server, "bob", group["id"])["attachments"]
        assert (original["width"], original["height"]) == (4000, 1000)


def test_a_large_file_goes_over_tus_survives_a_cut_and_a_reload_and_arrives_whole(
    tmp_path: Path, web_dist: Path
) -> None:
    body = sample("zip", 30 * 1024 * 1024)
    big = tmp_path / "archive.zip"
    big.write_bytes(body)
    with service_and_browser(tmp_path) as (server, browser):
        group = group_of(server, "alice", "bob")
        alice = signed_in(browser, server, "alice")
        patches: list[tuple[str, int]] = []
        state = {"cut": False, "hold": False}
        held: list[Any] = []

        def patch(route: Any) -> None:
            request = route.request
            if request.method != "PATCH":
                route.continue_()
                return
            offset = int(request.headers.get("upload-offset", "0"))
            patches.append((request.url, offset))
            if not state["cut"] and offset >= 0.4 * len(body):
                state["cut"] = True  # the connection drops under this chunk
                route.abort("connectionreset")
            elif state["hold"] and offset >= 0.6 * len(body):
                held.append(route)  # never answered: the page reloads while it hangs
            else:
                route.continue_()

        alice.route(re.compile(r"/api/v1/media/uploads/"), patch)
        state["hold"] = True
        alice.get_by_label("Attach files").set_input_files(str(big))
        bar = alice.get_by_role("list", name="Files to send").get_by_role("progressbar")
        alice.wait_for_function(
            "e => { const v = Number(e.getAttribute('aria-valuenow')); return v > 0 && v < 100; }",
            arg=bar.element_handle(),
            timeout=TIMEOUT_MS,
        )
        expect(alice.get_by_text("(resumable)")).to_be_visible()
        deadline = 200
        while not held and deadline:
            alice.wait_for_timeout(100)
            deadline -= 1
        assert state["cut"], f"no chunk was cut: {patches}"
        assert held, f"the upload went past 60% unheld: {patches}"
        screenshot(alice, "6-alice-resumable")
        uploads = {url for url, _ in patches}
        assert len(uploads) == 1  # the cut chunk resumed on the same session
        state["hold"] = False
        alice.reload()
        for route in held:
            with suppress(Exception):  # the page that asked is gone
                route.abort()
        tray = alice.get_by_role("list", name="Files to send")
        expect(tray.get_by_role("listitem", name="archive.zip").get_by_text("Uploaded")).to_be_visible()
        assert {url for url, _ in patches} == uploads  # after the reload: the same session again
        resumed_at = [offset for _, offset in patches if offset >= 0.6 * len(body)]
        assert resumed_at, patches
        alice.get_by_role("button", name="Send").click()
        expect(tray).to_have_count(0)
        sent = newest_message(server, "bob", group["id"])
        (attachment,) = sent["attachments"]
        assert attachment["original_name"] == "archive.zip"
        assert attachment["size"] == len(body)
        assert attachment["sha256"] == hashlib.sha256(body).hexdigest()


def test_the_page_has_no_serious_accessibility_violation_and_fits_a_phone(
    tmp_path: Path, web_dist: Path
) -> None:
    axe = WEB / "node_modules" / "axe-core" / "axe.min.js"
    assert axe.exists(), "axe-core is a devDependency of web/ (npm ci)"
    with service_and_browser(tmp_path) as (server, browser):
        group = group_of(server, "alice", "bob")
        with httpx.Client(base_url=server.base, headers=bearer("alice"), timeout=20) as client:
            message = client.post(
                f"/api/v1/conversations/{group['id']}/messages", json={"content": "a photo"}
            ).json()
            uploaded = client.post(
                "/api/v1/media/upload",
                data={"message_id": message["id"]},
                files=[
                    ("file", ("harbour.jpg", photos.jpeg(900, 1200), "image/jpeg")),
                    ("file", ("notes.pdf", sample("pdf"), "application/pdf")),
                ],
            )
            assert uploaded.status_code == 201, uploaded.text
        for width, height, name in ((1280, 800, "desktop"), (360, 740, "phone")):
            # The CSP forbids injected scripts; axe is the test's, so this context alone bypasses it.
            page = signed_in(
                browser, server, "bob", viewport={"width": width, "height": height}, bypass_csp=True
            )
            expect(page.get_by_role("button", name="Open harbour.jpg")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing sideways
            page.add_script_tag(path=str(axe))
            found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")
            serious = [
                (v["id"], v["help"], len(v["nodes"])) for v in found if v["impact"] in ("serious", "critical")
            ]
            assert serious == [], serious
            page.get_by_role("button", name="Open harbour.jpg").click()
            expect(page.get_by_role("dialog")).to_be_visible()
            found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")
            serious = [
                (v["id"], v["help"], len(v["nodes"])) for v in found if v["impact"] in ("serious", "critical")
            ]
            assert serious == [], serious
            screenshot(page, f"7-{name}-lightbox")
            page.keyboard.press("Escape")
            screenshot(page, f"8-{name}-conversation")
            page.context.close()


def test_a_dropped_socket_resumes_with_since_and_misses_nothing(tmp_path: Path, web_dist: Path) -> None:
    with service_and_browser(tmp_path) as (server, browser):
        group = group_of(server, "alice", "bob")
        bob = browser.new_context().new_page()
        sockets: list[Any] = []  # every socket the page opens, in order; the first passes at once

        def through(ws: Any) -> None:
            sockets.append(ws)
            if len(sockets) == 1:
                ws.connect_to_server()

        bob.route_web_socket(re.compile(r"/api/v1/ws"), through)
        bob.goto(sign_in_url(server.base, "bob"))
        expect(bob.get_by_role("status")).to_have_text("Live")
        with httpx.Client(base_url=server.base, headers=bearer("alice"), timeout=10) as alice:
            path = f"/api/v1/conversations/{group['id']}/messages"
            assert alice.post(path, json={"content": "before the drop"}).status_code == 201
            expect(bob.get_by_text("before the drop")).to_be_visible()
            sockets[0].close(code=4008, reason="test: the connection dropped")
            expect(bob.get_by_role("status")).to_have_text(re.compile("Offline|Connecting"))
            # While bob's page is away, alice writes; the page's next socket is held until then.
            assert alice.post(path, json={"content": "while you were away"}).status_code == 201
            deadline = 100
            while len(sockets) < 2 and deadline:
                bob.wait_for_timeout(100)
                deadline -= 1
            assert len(sockets) >= 2, "the page did not reconnect by itself"
            assert re.search(r"[?&]since=\d+", sockets[1].url), sockets[1].url
            sockets[1].connect_to_server()
            expect(bob.get_by_role("status")).to_have_text("Live")
            expect(bob.get_by_text("while you were away")).to_be_visible()
            expect(bob.get_by_text("before the drop")).to_have_count(1)  # nothing twice
