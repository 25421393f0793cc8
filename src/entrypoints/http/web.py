"""The built web client (Vite's `dist/`) served at `/`, beside the API, with no authentication.

Two of Litestar's static routers: `/assets/` holds Vite's content-hashed files, kept for a year;
the rest (`index.html`, whatever `public/` copied) is revalidated on every load, so that a new
build reaches the browsers at once. The API is untouched: its routes win over the static
catch-all, and the bearer middleware stays on the API's router.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.response.base import ASGIResponse
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp

INDEX = "index.html"
ASSETS = "assets"
# A Vite React build from this origin: its own scripts only, the inline styles React sets, media
# from blob URLs (previews before upload), the API's WebSocket on ws:// or wss://.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' ws: wss:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def is_built(web_dir: Path) -> bool:
    """Whether `make web` has left a build in `web_dir`."""
    return (web_dir / INDEX).is_file()


def _with_page_headers(response: ASGIApp) -> ASGIApp:
    # The static handlers answer ASGI responses, which take no router `response_headers`: only
    # the after_request hook sees them.
    if isinstance(response, ASGIResponse):
        for name, value in PAGE_HEADERS.items():
            response.headers[name] = value
    return response


def web_client_routers(web_dir: Path) -> list[Router]:
    """The routers serving the build in `web_dir` (check `is_built` first)."""
    return [
        create_static_files_router(
            path=f"/{ASSETS}",
            directories=[web_dir / ASSETS],
            name="web-assets",
            cache_control=CacheControlHeader(public=True, max_age=31_536_000, immutable=True),
            after_request=_with_page_headers,
        ),
        # html_mode: `/` answers index.html (a 404.html, if the build had one, would answer misses).
        create_static_files_router(
            path="/",
            directories=[web_dir],
            html_mode=True,
            name="web",
            cache_control=CacheControlHeader(no_cache=True),
            after_request=_with_page_headers,
        ),
    ]
