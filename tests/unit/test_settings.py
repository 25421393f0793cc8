"""Settings: defaults, every knob, and a sentence naming each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sql.database import ConnectionBudget
from domain.attachment import MediaKind
from entrypoints.settings import load_settings
from entrypoints.settings_values import SettingsError, development_secret

GOOD_SECRET = "s" * 32


def test_defaults_are_the_seeds() -> None:
    settings = load_settings({}, env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./data/chat-media.db"
    assert settings.upload_dir == Path("uploads")
    assert settings.policy.max_upload_size == 52_428_800
    assert settings.policy.kinds["webm"] is MediaKind.VIDEO
    assert settings.jwt_secret is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    policy = settings.policy
    assert (policy.max_image_pixels, policy.max_image_frames, policy.max_animation_pixels) == (
        50_000_000,
        1_000,
        500_000_000,
    )
    assert (settings.media_workers, settings.media_timeout) == (None, 20.0)  # None: cores - 1
    assert settings.database_connections == 40
    assert (settings.upload_idle_timeout, settings.upload_min_rate, settings.upload_min_rate_grace) == (
        30.0,
        1024,
        10.0,
    )


def test_logs_are_text_in_development_and_json_in_production_and_metrics_off_by_default() -> None:
    development = load_settings({}, env_file=None)
    assert (development.log_format, development.metrics_token) == ("text", None)
    production = load_settings(
        {"APP_ENV": "production", "JWT_SECRET": GOOD_SECRET, "MEDIA_URL_SECRET": "m" * 32}, env_file=None
    )
    assert production.log_format == "json"
    chosen = load_settings({"LOG_FORMAT": "json", "METRICS_TOKEN": "t" * 16}, env_file=None)
    assert (chosen.log_format, chosen.metrics_token) == ("json", "t" * 16)


def test_every_knob_is_read() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test",
            "UPLOAD_DIR": "/srv/media",
            "MAX_UPLOAD_SIZE": "1000",
            "JWT_SECRET": GOOD_SECRET,
            "JWT_ISSUER": "iss",
            "JWT_AUDIENCE": "aud",
            "IMAGE_EXTENSIONS": "png, JPG",
            "DOCUMENT_EXTENSIONS": "pdf",
            "VIDEO_EXTENSIONS": "",
            "PORT": "9000",
            "MAX_IMAGE_PIXELS": "12000000",
            "MAX_IMAGE_FRAMES": "50",
            "MAX_ANIMATION_PIXELS": "90000000",
            "MEDIA_WORKERS": "3",
            "MEDIA_TIMEOUT": "5",
            "UPLOAD_IDLE_TIMEOUT": "12",
            "UPLOAD_MIN_RATE": "4096",
            "UPLOAD_MIN_RATE_GRACE": "3",
            "DATABASE_CONNECTIONS": "12",
        },
        env_file=None,
    )
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.database_connections == 12
    assert settings.upload_dir == Path("/srv/media")
    assert settings.policy.max_upload_size == 1000
    # An empty list means "the default", not "none": videos keep the seed's list.
    assert set(settings.policy.kinds) == {"png", "jpg", "pdf", "mp4", "avi", "mov", "mkv", "webm"}
    assert (settings.jwt_issuer, settings.jwt_audience, settings.port) == ("iss", "aud", 9000)
    policy = settings.policy
    assert (policy.max_image_pixels, policy.max_image_frames, policy.max_animation_pixels) == (
        12_000_000,
        50,
        90_000_000,
    )
    assert (settings.media_workers, settings.media_timeout) == (3, 5.0)
    assert (settings.upload_idle_timeout, settings.upload_min_rate, settings.upload_min_rate_grace) == (
        12.0,
        4096,
        3.0,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAX_UPLOAD_SIZE": "fifty"}, "MAX_UPLOAD_SIZE"),
        ({"MAX_UPLOAD_SIZE": "0"}, "MAX_UPLOAD_SIZE"),
        ({"PORT": "-1"}, "PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"APP_ENV": "production"}, "JWT_SECRET"),
        ({"IMAGE_EXTENSIONS": "png,exe"}, "extension"),
        ({"DOCUMENT_EXTENSIONS": "pdf,png"}, "extension"),
        ({"JWT_PUBLIC_KEY": "/nonexistent/key.pem"}, "JWT_PUBLIC_KEY"),
        ({"MAX_IMAGE_PIXELS": "0"}, "^MAX_IMAGE_PIXELS must be at least 1"),
        ({"MAX_IMAGE_FRAMES": "many"}, "^MAX_IMAGE_FRAMES must be a whole number"),
        ({"MAX_ANIMATION_PIXELS": "-5"}, "^MAX_ANIMATION_PIXELS"),
        ({"MEDIA_WORKERS": "two"}, "^MEDIA_WORKERS"),
        ({"MEDIA_TIMEOUT": "0"}, "^MEDIA_TIMEOUT"),
        ({"UPLOAD_IDLE_TIMEOUT": "0"}, "^UPLOAD_IDLE_TIMEOUT must be at least 1"),
        ({"UPLOAD_MIN_RATE": "slow"}, "^UPLOAD_MIN_RATE must be a whole number"),
        ({"UPLOAD_MIN_RATE": "-1"}, "^UPLOAD_MIN_RATE must be at least 0"),
        ({"UPLOAD_MIN_RATE": "8000000"}, "^UPLOAD_MIN_RATE must be at most 1048576"),
        ({"UPLOAD_MIN_RATE_GRACE": "0"}, "^UPLOAD_MIN_RATE_GRACE must be at least 1"),
        ({"UPLOAD_MIN_RATE_GRACE": "2.5"}, "^UPLOAD_MIN_RATE_GRACE must be a whole number"),
        ({"APP_ENV": "production", "JWT_SECRET": GOOD_SECRET}, "^MEDIA_URL_SECRET must be set"),
        ({"MEDIA_URL_SECRET": "short"}, "^MEDIA_URL_SECRET must be at least 32 bytes"),
        ({"MEDIA_URL_SECRET_PREVIOUS": "short"}, "^MEDIA_URL_SECRET_PREVIOUS must be at least 32"),
        (
            {"JWT_SECRET": GOOD_SECRET, "MEDIA_URL_SECRET": GOOD_SECRET},
            "^MEDIA_URL_SECRET must not be JWT_SECRET",
        ),
        ({"MEDIA_URL_TTL": "0"}, "^MEDIA_URL_TTL must be at least 1"),
        ({"MEDIA_URL_TTL": "604801"}, "^MEDIA_URL_TTL must be at most 604800"),
        ({"CORS_ALLOW_ORIGINS": "*"}, "^CORS_ALLOW_ORIGINS must list"),
        ({"CORS_ALLOW_ORIGINS": "https://chat.example.com/"}, "^CORS_ALLOW_ORIGINS must be origins"),
        ({"CORS_ALLOW_ORIGINS": "chat.example.com"}, "^CORS_ALLOW_ORIGINS must be origins"),
        ({"METRICS_TOKEN": "short"}, "^METRICS_TOKEN must be at least 16"),
        ({"LOG_FORMAT": "xml"}, "^LOG_FORMAT must be json or text"),
        ({"DATABASE_CONNECTIONS": "3"}, "^DATABASE_CONNECTIONS must be at least 4"),
    ],
)
def test_a_bad_value_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env, env_file=None)


def test_media_urls_and_cors_are_read() -> None:
    settings = load_settings(
        {
            "MEDIA_URL_SECRET": "m" * 32,
            "MEDIA_URL_SECRET_PREVIOUS": "p" * 32,
            "MEDIA_URL_TTL": "600",
            "CORS_ALLOW_ORIGINS": "https://chat.example.com, http://127.0.0.1:5173,http://[::1]:8080",
        },
        env_file=None,
    )
    assert (settings.media_url_secret, settings.media_url_secret_previous) == ("m" * 32, "p" * 32)
    assert settings.media_url_ttl == 600
    assert settings.cors_allow_origins == (
        "https://chat.example.com",
        "http://127.0.0.1:5173",
        "http://[::1]:8080",
    )
    defaults = load_settings({}, env_file=None)
    assert (defaults.media_url_secret, defaults.media_url_ttl, defaults.cors_allow_origins) == (
        None,
        3600,
        (),
    )


def test_an_upload_min_rate_of_zero_turns_the_rate_off() -> None:
    assert load_settings({"UPLOAD_MIN_RATE": "0"}, env_file=None).upload_min_rate == 0


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MAX_UPLOAD_SIZE=1234\nUPLOAD_DIR=from-file\n")
    settings = load_settings({"UPLOAD_DIR": "from-env"}, env_file=env_file)
    assert settings.policy.max_upload_size == 1234
    assert settings.upload_dir == Path("from-env")


def test_the_development_secret_is_random_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / ".dev-jwt-secret"
    first, made = development_secret(path)
    again, made_again = development_secret(path)
    other, _ = development_secret(tmp_path / "other")
    assert (made, made_again) == (True, False)
    assert first == again != other
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600


def test_storage_is_local_unless_s3_is_asked_for() -> None:
    assert load_settings({}, env_file=None).s3 is None
    assert load_settings({"STORAGE": "local"}, env_file=None).s3 is None


def test_every_s3_knob_is_read() -> None:
    settings = load_settings(
        {
            "STORAGE": "S3",
            "S3_BUCKET": "chat-media.prod",
            "S3_ENDPOINT_URL": "http://minio:9000",
            "S3_PUBLIC_ENDPOINT_URL": "https://media.example.com",
            "AWS_REGION": "eu-west-3",
            "S3_PREFIX": "/media/",
            "S3_PART_SIZE": str(16 * 1024 * 1024),
            "S3_TIMEOUT": "5",
            "S3_PRESIGNED_DOWNLOADS": "true",
            "S3_PRESIGN_TTL": "120",
        },
        env_file=None,
    )
    assert settings.s3 is not None
    store = settings.s3
    assert (store.bucket, store.endpoint_url, store.region) == (
        "chat-media.prod",
        "http://minio:9000",
        "eu-west-3",
    )
    assert (store.prefix, store.part_size, store.timeout) == ("media/", 16 * 1024 * 1024, 5.0)
    assert store.public_endpoint_url == "https://media.example.com"
    assert settings.s3.presigned_downloads is True
    assert settings.s3.presign_ttl == 120


def test_s3_defaults() -> None:
    settings = load_settings({"STORAGE": "s3", "S3_BUCKET": "media"}, env_file=None)
    assert settings.s3 is not None
    assert (settings.s3.endpoint_url, settings.s3.prefix, settings.s3.part_size) == (
        None,
        "",
        8 * 1024 * 1024,
    )
    assert (settings.s3.presigned_downloads, settings.s3.presign_ttl) == (False, 60)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"STORAGE": "ftp"}, "STORAGE"),
        ({"STORAGE": "s3"}, "S3_BUCKET"),
        ({"STORAGE": "s3", "S3_BUCKET": "No_Such"}, "S3_BUCKET"),
        ({"STORAGE": "s3", "S3_BUCKET": "media", "S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL"),
        ({"STORAGE": "s3", "S3_BUCKET": "media", "S3_PUBLIC_ENDPOINT_URL": "cdn"}, "S3_PUBLIC_ENDPOINT_URL"),
        ({"STORAGE": "s3", "S3_BUCKET": "media", "S3_PART_SIZE": "1048576"}, "S3_PART_SIZE"),
        ({"STORAGE": "s3", "S3_BUCKET": "media", "S3_TIMEOUT": "0"}, "S3_TIMEOUT"),
        ({"STORAGE": "s3", "S3_BUCKET": "media", "S3_PRESIGN_TTL": "604801"}, "S3_PRESIGN_TTL"),
        (
            {"STORAGE": "s3", "S3_BUCKET": "media", "S3_PRESIGNED_DOWNLOADS": "maybe"},
            "S3_PRESIGNED_DOWNLOADS",
        ),
        ({"S3_PRESIGNED_DOWNLOADS": "true"}, "STORAGE=s3"),
    ],
)
def test_a_bad_s3_value_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env, env_file=None)


def test_downloads_go_to_nginx_only_when_asked() -> None:
    assert load_settings({}, env_file=None).accel_redirect_prefix is None
    settings = load_settings({"ACCEL_REDIRECT_PREFIX": "/_stored/"}, env_file=None)
    assert settings.accel_redirect_prefix == "/_stored/"
    nested = load_settings({"ACCEL_REDIRECT_PREFIX": "/internal/media.v2/"}, env_file=None)
    assert nested.accel_redirect_prefix == "/internal/media.v2/"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ACCEL_REDIRECT_PREFIX": "_stored/"}, "^ACCEL_REDIRECT_PREFIX must be a path"),
        ({"ACCEL_REDIRECT_PREFIX": "/_stored"}, "^ACCEL_REDIRECT_PREFIX must be a path"),
        ({"ACCEL_REDIRECT_PREFIX": "/"}, "^ACCEL_REDIRECT_PREFIX must be a path"),
        ({"ACCEL_REDIRECT_PREFIX": "/a//b/"}, "^ACCEL_REDIRECT_PREFIX must be a path"),
        ({"ACCEL_REDIRECT_PREFIX": "/../etc/"}, "^ACCEL_REDIRECT_PREFIX must be a path"),
        ({"ACCEL_REDIRECT_PREFIX": "/a b/"}, "^ACCEL_REDIRECT_PREFIX must be a path"),
        ({"ACCEL_REDIRECT_PREFIX": "/x;y/"}, "^ACCEL_REDIRECT_PREFIX must be a path"),
        ({"ACCEL_REDIRECT_PREFIX": "/api/v1/files/"}, "^ACCEL_REDIRECT_PREFIX must not be under"),
        ({"ACCEL_REDIRECT_PREFIX": "/health/"}, "^ACCEL_REDIRECT_PREFIX must not be under"),
        (
            {"ACCEL_REDIRECT_PREFIX": "/_stored/", "STORAGE": "s3", "S3_BUCKET": "media"},
            "^ACCEL_REDIRECT_PREFIX needs STORAGE=local",
        ),
    ],
)
def test_a_bad_accel_redirect_prefix_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env, env_file=None)


def test_the_web_client_is_the_checkouts_build_unless_web_dir_says_otherwise() -> None:
    checkout = Path(__file__).resolve().parents[2]
    # Absolute, so that the service finds the build from whichever directory it starts in.
    assert load_settings({}, env_file=None).web_dir == checkout / "web" / "dist"
    assert load_settings({"WEB_DIR": "/srv/chat-web"}, env_file=None).web_dir == Path("/srv/chat-web")
    assert load_settings({"WEB_DIR": "  "}, env_file=None).web_dir == checkout / "web" / "dist"


def test_scanning_is_off_by_default_and_fails_closed_once_on() -> None:
    assert load_settings({}, env_file=None).scan is None
    scan = load_settings({"SCAN": "clamav", "CLAMD_SOCKET": "/run/clamav/clamd.ctl"}, env_file=None).scan
    assert scan is not None
    assert (scan.socket_path, scan.host, scan.fail_open, scan.timeout) == (
        Path("/run/clamav/clamd.ctl"),
        None,
        False,
        30.0,
    )
    tcp = load_settings(
        {
            "SCAN": "clamav",
            "CLAMD_HOST": "clamd",
            "CLAMD_PORT": "3311",
            "SCAN_FAIL": "open",
            "CLAMD_TIMEOUT": "5",
        },
        env_file=None,
    ).scan
    assert tcp is not None
    assert (tcp.socket_path, tcp.host, tcp.port, tcp.fail_open, tcp.timeout) == (
        None,
        "clamd",
        3311,
        True,
        5.0,
    )


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SCAN": "yes"}, "SCAN must be"),
        ({"SCAN": "clamav"}, "CLAMD_SOCKET"),
        ({"SCAN": "clamav", "CLAMD_SOCKET": "/s", "CLAMD_HOST": "h"}, "one of them"),
        ({"CLAMD_SOCKET": "/s"}, "need SCAN=clamav"),
        ({"SCAN": "clamav", "CLAMD_HOST": "h", "SCAN_FAIL": "maybe"}, "SCAN_FAIL must be"),
        ({"SCAN": "clamav", "CLAMD_HOST": "h", "CLAMD_PORT": "70000"}, "CLAMD_PORT must be at most"),
        ({"SCAN": "clamav", "CLAMD_HOST": "h", "CLAMD_TIMEOUT": "0"}, "CLAMD_TIMEOUT must be at least"),
    ],
)
def test_bad_scanning_settings_are_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(environ, env_file=None)


@pytest.mark.parametrize("total", [4, 5, 8, 40, 41, 200])
def test_a_processs_connections_are_shared_and_never_overdrawn(total: int) -> None:
    budget = ConnectionBudget(total)
    assert budget.reads + budget.units_of_work + budget.units_of_work_overflow <= total
    assert min(budget.reads, budget.units_of_work) >= 1
    assert budget.reads >= total // 2  # the reads are most of a chat's requests
