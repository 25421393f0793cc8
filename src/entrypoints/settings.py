"""Settings from the environment (and an optional `.env`): every knob the operator has, checked once.

A bad value stops start-up with a sentence that names it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from adapters.files.s3 import MIN_PART_SIZE
from adapters.sql.database import DEFAULT_CONNECTIONS
from domain.policy import (
    DOCUMENT_EXTENSIONS,
    IMAGE_EXTENSIONS,
    MAX_ANIMATION_PIXELS,
    MAX_IMAGE_FRAMES,
    MAX_IMAGE_PIXELS,
    MAX_UPLOAD_SIZE,
    VIDEO_EXTENSIONS,
    MediaPolicy,
)
from entrypoints.settings_values import (
    ScanSettings,
    SettingsError,
    accel_redirect_prefix,
    checked_media_url_secret,
    origins,
    scan_settings,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/chat-media.db"
# The repository's web client build (`make web`): src/entrypoints/settings.py is three levels down.
DEFAULT_WEB_DIR = Path(__file__).resolve().parents[2] / "web" / "dist"
MAX_MEDIA_URL_TTL = 7 * 86_400
MAX_MIN_RATE = 1024 * 1024  # 8 Mbit/s: a floor above it would cut off ordinary mobile uploads
MIN_METRICS_TOKEN = 16  # a scraper's secret: long enough not to be guessed


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Settings:
    """STORAGE=s3: the bucket, where it is, and how downloads are handled."""

    bucket: str
    endpoint_url: str | None = None  # None: AWS itself, for the region
    region: str | None = None  # None: from the AWS environment (AWS_REGION, the profile)
    prefix: str = ""  # every key starts with it, so one bucket can hold several services
    part_size: int = 8 * 1024 * 1024
    timeout: float = 10.0  # seconds to connect, and between two reads of an answer
    public_endpoint_url: str | None = None  # presigned URLs point here when clients see S3 elsewhere
    max_attempts: int = 3  # botocore's standard retries, counting the first try (no variable: tests)
    presigned_downloads: bool = False  # GET answers 307 to a presigned URL after the access check
    presign_ttl: int = 60  # seconds a presigned URL works


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections one process opens at most (each worker is a process); SQLite: unused.
    database_connections: int = DEFAULT_CONNECTIONS
    upload_dir: Path = Path("uploads")
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    upload_idle_timeout: float = 30.0  # seconds a request body may send nothing (408 past it)
    upload_min_rate: int = 1024  # bytes a second a request body must average (408 below it); 0: none
    upload_min_rate_grace: float = 10.0  # seconds of a body before its rate counts
    redis_url: str | None = None  # set: WebSocket events cross processes through Redis pub/sub
    draft_ttl: float = 86_400.0  # seconds a draft is kept unsent
    orphan_grace: float = 3_600.0  # seconds before a file no row names counts as forgotten
    sweep_interval: float = 600.0  # seconds between sweeps in the service; 0: only `chat-media sweep`
    upload_rate: int = 60  # uploads per user per minute (429 past it); 0: no limit
    resumable_ttl: float = 86_400.0  # seconds a resumable upload may take, from its creation
    s3: S3Settings | None = None  # set: files live in S3 (STORAGE=s3), else under upload_dir
    scan: ScanSettings | None = None  # set: every file is scanned for malware (SCAN=clamav)
    policy: MediaPolicy = field(default_factory=MediaPolicy)
    media_workers: int | None = None  # files processed at once; None: one fewer than the cores
    media_timeout: float = 20.0  # seconds ffprobe and ffmpeg get for one video
    accel_redirect_prefix: str | None = None  # set: nginx sends downloads (X-Accel-Redirect)
    # The key of signed media URLs; None: one made for this process (create_app), which only a
    # single process may use: the CLI saves one in data/ for development, production must set it.
    media_url_secret: str | None = None
    media_url_secret_previous: str | None = None  # still verified: URLs it signed live until expiry
    metrics_token: str | None = None  # set: GET /metrics answers a scraper that sends it as a bearer token
    log_format: str = "text"  # "json": one JSON object per line (the default with APP_ENV=production)
    media_url_ttl: int = 3_600  # seconds a signed media URL works at least (less than twice that)
    cors_allow_origins: tuple[str, ...] = ()  # web clients on other origins; none by default
    # The built web client served at `/` (WEB_DIR): without an index.html in it, the API alone.
    # The default is the checkout's web/dist; an installed package must set it.
    web_dir: Path = DEFAULT_WEB_DIR

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def load_settings(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Reads the settings; the process environment wins over `.env`."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    def text(name: str, default: str | None = None) -> str | None:
        value = values.get(name, "").strip()
        return value or default

    def number(name: str, default: int, minimum: int) -> int:
        raw = text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not '{raw}'.") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, not {value}.")
        return value

    def extensions(name: str, default: tuple[str, ...]) -> list[str]:
        raw = text(name)
        return default if raw is None else [e for e in raw.split(",") if e.strip()]  # type: ignore[return-value]

    environment = text("APP_ENV", "development")
    if environment not in ("development", "production"):
        raise SettingsError(f"APP_ENV must be 'development' or 'production', not '{environment}'.")
    # Read before the lists, so that a bad number is named as itself, not as a bad list.
    quota = number("STORAGE_QUOTA", 0, 0)
    sizes = {
        "max_upload_size": number("MAX_UPLOAD_SIZE", MAX_UPLOAD_SIZE, 1),
        "max_image_pixels": number("MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS, 1),
        "max_image_frames": number("MAX_IMAGE_FRAMES", MAX_IMAGE_FRAMES, 1),
        "max_animation_pixels": number("MAX_ANIMATION_PIXELS", MAX_ANIMATION_PIXELS, 1),
    }
    try:
        policy = MediaPolicy.from_lists(
            storage_quota=quota or None,
            images=extensions("IMAGE_EXTENSIONS", IMAGE_EXTENSIONS),
            documents=extensions("DOCUMENT_EXTENSIONS", DOCUMENT_EXTENSIONS),
            videos=extensions("VIDEO_EXTENSIONS", VIDEO_EXTENSIONS),
            **sizes,
        )
    except ValueError as exc:
        raise SettingsError(f"The extension lists are not valid: {exc}.") from None

    database_url = text("DATABASE_URL", DEFAULT_DATABASE_URL)
    assert database_url is not None
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SettingsError(
            "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://, "
            f"not '{database_url.split('://')[0]}://'."
        )
    public_key = text("JWT_PUBLIC_KEY")
    if public_key is not None and not public_key.startswith("-----BEGIN"):
        key_path = Path(public_key)
        if not key_path.is_file():
            raise SettingsError("JWT_PUBLIC_KEY must be a PEM public key or the path of a file holding one.")
        public_key = key_path.read_text()
    secret = text("JWT_SECRET")
    if secret is not None and len(secret.encode()) < 32:
        raise SettingsError("JWT_SECRET must be at least 32 bytes long (RFC 7518 asks as much for HS256).")
    if secret is None and public_key is None and environment == "production":
        raise SettingsError("JWT_SECRET or JWT_PUBLIC_KEY must be set when APP_ENV=production.")
    media_url_secret, previous_media_url_secret = (
        checked_media_url_secret(text(name), name, secret)
        for name in ("MEDIA_URL_SECRET", "MEDIA_URL_SECRET_PREVIOUS")
    )
    if media_url_secret is None and environment == "production":
        raise SettingsError(
            "MEDIA_URL_SECRET must be set when APP_ENV=production (every instance signs with it)."
        )
    media_url_ttl = number("MEDIA_URL_TTL", 3_600, 1)
    if media_url_ttl > MAX_MEDIA_URL_TTL:
        raise SettingsError(
            f"MEDIA_URL_TTL must be at most {MAX_MEDIA_URL_TTL} (7 days), not {media_url_ttl}."
        )
    min_rate = number("UPLOAD_MIN_RATE", 1024, 0)
    if min_rate > MAX_MIN_RATE:
        raise SettingsError(
            f"UPLOAD_MIN_RATE must be at most {MAX_MIN_RATE} bytes a second (more would cut off ordinary "
            f"mobile uploads), not {min_rate}."
        )
    metrics_token = text("METRICS_TOKEN")
    if metrics_token is not None and len(metrics_token) < MIN_METRICS_TOKEN:
        raise SettingsError(f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters long.")
    log_format = text("LOG_FORMAT", "json" if environment == "production" else "text")
    if log_format not in ("json", "text"):
        raise SettingsError(f"LOG_FORMAT must be json or text, not '{log_format}'.")
    redis_url = text("REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"REDIS_URL must start with redis://, rediss:// or unix://, not '{redis_url}'.")
    s3 = _s3_settings(text, number)
    scan = scan_settings(
        text("SCAN"),
        socket_path=text("CLAMD_SOCKET"),
        host=text("CLAMD_HOST"),
        port=number("CLAMD_PORT", 3310, 1),
        fail=text("SCAN_FAIL"),
        timeout=number("CLAMD_TIMEOUT", 30, 1),
    )
    return Settings(
        s3=s3,
        scan=scan,
        accel_redirect_prefix=accel_redirect_prefix(text("ACCEL_REDIRECT_PREFIX"), on_s3=s3 is not None),
        environment=environment,
        host=text("HOST", "127.0.0.1") or "127.0.0.1",
        port=number("PORT", 8000, 1),
        database_url=database_url,
        database_connections=number("DATABASE_CONNECTIONS", DEFAULT_CONNECTIONS, 4),
        upload_dir=Path(text("UPLOAD_DIR", "uploads") or "uploads"),
        jwt_secret=secret,
        jwt_public_key=public_key,
        jwt_issuer=text("JWT_ISSUER"),
        jwt_audience=text("JWT_AUDIENCE"),
        upload_idle_timeout=float(number("UPLOAD_IDLE_TIMEOUT", 30, 1)),
        upload_min_rate=min_rate,
        upload_min_rate_grace=float(number("UPLOAD_MIN_RATE_GRACE", 10, 1)),
        redis_url=redis_url,
        draft_ttl=float(number("DRAFT_TTL", 86_400, 1)),
        orphan_grace=float(number("ORPHAN_GRACE", 3_600, 60)),
        sweep_interval=float(number("SWEEP_INTERVAL", 600, 0)),
        upload_rate=number("UPLOAD_RATE", 60, 0),
        resumable_ttl=float(number("RESUMABLE_TTL", 86_400, 60)),
        policy=policy,
        media_workers=number("MEDIA_WORKERS", 0, 0) or None,
        media_timeout=float(number("MEDIA_TIMEOUT", 20, 1)),
        media_url_secret=media_url_secret,
        metrics_token=metrics_token,
        log_format=log_format or "text",
        media_url_secret_previous=previous_media_url_secret,
        media_url_ttl=media_url_ttl,
        cors_allow_origins=origins(text("CORS_ALLOW_ORIGINS")),
        web_dir=Path(text("WEB_DIR") or DEFAULT_WEB_DIR),
    )


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _s3_settings(
    text: Callable[..., str | None], number: Callable[[str, int, int], int]
) -> S3Settings | None:
    storage = (text("STORAGE", "local") or "local").lower()
    if storage not in ("local", "s3"):
        raise SettingsError(f"STORAGE must be 'local' or 's3', not '{storage}'.")
    presigned = (text("S3_PRESIGNED_DOWNLOADS", "false") or "false").lower()
    if presigned not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"S3_PRESIGNED_DOWNLOADS must be true or false, not '{presigned}'.")
    if storage == "local":
        if presigned in ("true", "1", "yes"):
            raise SettingsError("S3_PRESIGNED_DOWNLOADS=true needs STORAGE=s3.")
        return None
    bucket = text("S3_BUCKET")
    if bucket is None:
        raise SettingsError("S3_BUCKET must name the bucket when STORAGE=s3.")
    if not _BUCKET.fullmatch(bucket):
        raise SettingsError(
            f"S3_BUCKET must be a valid bucket name (3-63 of a-z, 0-9, '.', '-'), not '{bucket}'."
        )
    urls = {name: text(name) for name in ("S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL")}
    for name, url in urls.items():
        if url is not None and not url.startswith(("http://", "https://")):
            raise SettingsError(f"{name} must start with http:// or https://, not '{url}'.")
    prefix = (text("S3_PREFIX", "") or "").strip("/")
    ttl = number("S3_PRESIGN_TTL", 60, 1)
    if ttl > 604_800:
        raise SettingsError(f"S3_PRESIGN_TTL must be at most 604800 (7 days, SigV4's ceiling), not {ttl}.")
    return S3Settings(
        bucket=bucket,
        endpoint_url=urls["S3_ENDPOINT_URL"],
        region=text("S3_REGION") or text("AWS_REGION") or text("AWS_DEFAULT_REGION"),
        prefix=f"{prefix}/" if prefix else "",
        part_size=number("S3_PART_SIZE", 8 * 1024 * 1024, MIN_PART_SIZE),
        timeout=float(number("S3_TIMEOUT", 10, 1)),
        public_endpoint_url=urls["S3_PUBLIC_ENDPOINT_URL"],
        presigned_downloads=presigned in ("true", "1", "yes"),
        presign_ttl=ttl,
    )
