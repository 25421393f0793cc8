"""CORS for web clients on other origins (CORS_ALLOW_ORIGINS); none configured, no CORS layer."""

from __future__ import annotations

from litestar.config.cors import CORSConfig

# What a web client on another origin sends beyond the CORS-safelisted headers, and what it reads
# of the answers: ranges and validators of downloads, tus's fields, the upload's results.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Range",
    "If-Range",
    "If-None-Match",
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Metadata",
    "Upload-Offset",
    "X-Request-ID",
)
CORS_EXPOSED_HEADERS = (
    "Content-Range",
    "Content-Length",
    "Content-Disposition",
    "ETag",
    "Location",
    "Retry-After",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "Upload-Attachment-Id",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "X-Request-ID",
)


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS for the configured origins alone. No credentials: the API takes bearer tokens and
    signed URLs, never cookies."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=list(CORS_REQUEST_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=600,
    )
