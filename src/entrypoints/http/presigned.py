"""`S3_PRESIGNED_DOWNLOADS=true`: a GET of a file is answered, after the same access check, with a
307 to a short-lived URL of the object store, whose answer carries the contract's Content-Type,
Content-Disposition and Cache-Control (S3 sets them from the URL's signed `response-*` parameters).
The store's own answer cannot carry nosniff or the sandbox CSP: docs/deployment.md says what that
means and how to serve the bucket from an origin of its own. HEAD is still answered by the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from litestar.response import Redirect

from adapters.metrics import count_download
from domain.attachment import Attachment
from entrypoints.http.file_response import MAX_AGE, content_disposition


class DownloadLinks(Protocol):
    """A store that can hand out URLs of its own (S3FileStore)."""

    async def presigned_download(
        self,
        filename: str,
        *,
        content_type: str,
        content_disposition: str,
        cache_control: str,
        expires_in: int,
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class PresignedDownloads:
    links: DownloadLinks
    ttl: int  # seconds the URL works; the bytes it fetched may be cached as long as ours

    async def redirect(self, attachment: Attachment) -> Redirect:
        url = await self.links.presigned_download(
            attachment.stored_as,  # the content's object, shared; the disposition is this attachment's
            content_type=attachment.content_type,
            content_disposition=content_disposition(attachment.original_name, attachment.extension),
            cache_control=f"private, max-age={MAX_AGE}",
            expires_in=self.ttl,
        )
        count_download("s3", attachment.size)  # the object store sends them, on the redirect
        return Redirect(
            url,
            status_code=307,
            headers={
                "Cache-Control": "private, no-store",  # the URL expires; the next GET gets a new one
                "Referrer-Policy": "no-referrer",  # the signed URL must not leak onwards
                "X-Content-Type-Options": "nosniff",
            },
        )
