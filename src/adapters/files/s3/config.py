"""What the S3 store is told (S3Config), the limits S3 sets, staging names, and S3's errors read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's floor for every part but the last
MAX_COPY_PART = 5 * 1024**3  # S3's ceiling for one UploadPartCopy
# Slowest transfer a call is allowed before its deadline: aiohttp times reads out, but a server that
# stops reading an upload would hold a write forever without a deadline of the call's own.
MIN_THROUGHPUT = 1_000_000  # bytes per second
STAGING = "staging/"
# aiohttp's ClientPayloadError (a body cut short) reaches us unwrapped from a streamed GET.
FAILURES = (ClientError, BotoCoreError, aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Config:
    bucket: str
    endpoint_url: str | None = None  # None: AWS itself, for the region
    region: str | None = None  # None: from the AWS environment (AWS_REGION, the profile)
    prefix: str = ""  # every key starts with it, so one bucket can hold several services
    part_size: int = 8 * 1024 * 1024
    timeout: float = 10.0  # seconds to connect, and between two reads of an answer
    max_attempts: int = 3  # botocore's standard retries, counting the first try
    public_endpoint_url: str | None = None  # presigned URLs point here when clients see S3 elsewhere


@dataclass(frozen=True, slots=True)
class Leftover:
    """What a failed upload may leave: an unfinished multipart upload, or an object version."""

    key: str
    upload_id: str | None = None
    version_id: str | None = None  # of a staging object in a versioned bucket: deleted for good


def staging_name(at: datetime) -> str:
    """`staging/<ms since the epoch>-<random>`: the key tells its own age, which S3-compatible
    servers do not all report faithfully (moto's ListMultipartUploads says every upload began in
    2010)."""
    return f"{STAGING}{int(at.timestamp() * 1000):013d}-{uuid.uuid4().hex}"


def begun(name: str, reported: datetime) -> datetime:
    """When a staging key was made, from its name; else what the server reported."""
    stamp = name[len(STAGING) :].split("-", 1)[0] if name.startswith(STAGING) else ""
    return datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp.isdigit() else reported


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def http_status(exc: BaseException) -> int:
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return 0
