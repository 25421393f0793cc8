"""The settings' values that take more than a type to check, each checked alone, and the development
secret the CLI keeps for a service run without one."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

DEV_SECRET_FILE = Path("data/.dev-jwt-secret")
DEV_MEDIA_URL_SECRET_FILE = Path("data/.dev-media-url-secret")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def checked_media_url_secret(value: str | None, name: str, jwt_secret: str | None) -> str | None:
    if value is None:
        return None
    if len(value.encode()) < 32:
        raise SettingsError(f"{name} must be at least 32 bytes long.")
    if value == jwt_secret:
        raise SettingsError(f"{name} must not be JWT_SECRET: signed media URLs have a key of their own.")
    return value


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")


def origins(raw: str | None) -> tuple[str, ...]:
    """CORS_ALLOW_ORIGINS: comma-separated origins, each exactly as a browser sends it."""
    origins = tuple(o.strip() for o in (raw or "").split(",") if o.strip())
    for origin in origins:
        if origin == "*":
            raise SettingsError("CORS_ALLOW_ORIGINS must list the web clients' origins; '*' is not accepted.")
        if not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                "CORS_ALLOW_ORIGINS must be origins such as https://chat.example.com (a scheme, a host, "
                f"an optional port; no path, no trailing '/'), not '{origin}'."
            )
    return origins


# Segments of unreserved characters, each ending in '/': what an nginx `location ^~` matches as is.
_ACCEL_PREFIX = re.compile(r"/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)+")
_SERVICE_PATHS = ("/api/", "/schema/", "/health/")


def accel_redirect_prefix(prefix: str | None, *, on_s3: bool) -> str | None:
    """The path prefix of nginx's internal location for stored files (docs/deployment.md)."""
    if prefix is None:
        return None
    if not _ACCEL_PREFIX.fullmatch(prefix):
        raise SettingsError(
            "ACCEL_REDIRECT_PREFIX must be a path that starts and ends with '/' (such as /_stored/), "
            f"made of letters, digits and '-', '_', '.', '~', not '{prefix}'."
        )
    if prefix.startswith(_SERVICE_PATHS):
        raise SettingsError(
            f"ACCEL_REDIRECT_PREFIX must not be under the service's own paths "
            f"({', '.join(_SERVICE_PATHS)}), not '{prefix}'."
        )
    if on_s3:
        raise SettingsError(
            "ACCEL_REDIRECT_PREFIX needs STORAGE=local: nginx sends the files from UPLOAD_DIR. "
            "With STORAGE=s3, S3_PRESIGNED_DOWNLOADS=true hands downloads to S3 instead."
        )
    return prefix


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanSettings:
    """SCAN=clamav: where clamd listens, how long each step may take, and what an upload does when
    it does not answer."""

    socket_path: Path | None = None  # CLAMD_SOCKET; else host and port
    host: str | None = None
    port: int = 3310
    timeout: float = 30.0  # seconds for each step of a scan (CLAMD_TIMEOUT)
    fail_open: bool = False  # SCAN_FAIL=open: stored unscanned; closed (the default): refused, 503


def scan_settings(
    scan: str | None,
    *,
    socket_path: str | None,
    host: str | None,
    port: int,
    fail: str | None,
    timeout: int,
) -> ScanSettings | None:
    """SCAN (off | clamav), CLAMD_SOCKET or CLAMD_HOST and CLAMD_PORT, SCAN_FAIL (closed | open)."""
    scan = (scan or "off").lower()
    if scan not in ("off", "clamav"):
        raise SettingsError(f"SCAN must be 'off' or 'clamav', not '{scan}'.")
    fail = (fail or "closed").lower()
    if fail not in ("closed", "open"):
        raise SettingsError(f"SCAN_FAIL must be 'closed' or 'open', not '{fail}'.")
    if scan == "off":
        if socket_path is not None or host is not None:
            raise SettingsError("CLAMD_SOCKET and CLAMD_HOST need SCAN=clamav.")
        return None
    if (socket_path is None) == (host is None):
        raise SettingsError(
            "SCAN=clamav needs where clamd listens: CLAMD_SOCKET (its LocalSocket) or CLAMD_HOST "
            "(and CLAMD_PORT, 3310 by default), one of them."
        )
    if port > 65_535:
        raise SettingsError(f"CLAMD_PORT must be at most 65535, not {port}.")
    return ScanSettings(
        socket_path=None if socket_path is None else Path(socket_path),
        host=host,
        port=port,
        timeout=float(timeout),
        fail_open=fail == "open",
    )


def development_secret(path: Path = DEV_SECRET_FILE) -> tuple[str, bool]:
    """A random HS256 secret for development, kept in `data/` so tokens outlive a restart.
    Returns the secret and whether it was just made."""
    if path.is_file():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret)
    return secret, True
