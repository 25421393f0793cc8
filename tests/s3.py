"""A real S3 API on loopback for the tests: moto's server mode in a process of its own, started once
per test session on a free port (skipped with a reason when it cannot start, unless CI=true), and
a bucket of each test's own. The service finds its credentials as in production, in the usual AWS
environment variables; these are moto's dummies."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest

from adapters.files.s3 import S3Config
from domain.attachment import Rendition, rendition_name, thumbnail_name
from entrypoints.settings import S3Settings
from tests.databases import unavailable
from tests.integration.server_process import free_port

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",  # no profile of the machine's may leak in
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
# PR_SET_PDEATHSIG first: moto gets SIGTERM when the test process dies, even killed, so that no
# S3 server outlives the tests (start_new_session keeps it out of the terminal's signals).
MOTO_START = "import ctypes; ctypes.CDLL(None).prctl(1, 15); from moto.server import main; main()"


@dataclass
class Moto:
    endpoint: str
    process: subprocess.Popen[bytes]

    @functools.cached_property
    def _client(self) -> Any:
        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def client(self) -> Any:
        """A plain (blocking) botocore client, for tests to look into the bucket."""
        return self._client


def start_moto(log: Path, port: int | None = None) -> Moto:
    port = port or free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", MOTO_START, "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1)
            return Moto(endpoint, process)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    unavailable(f"moto's S3 server did not start on 127.0.0.1:{port}: {log.read_text()[-500:]}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    saved = {name: os.environ.get(name) for name in AWS_ENV}
    os.environ.update(AWS_ENV)
    server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def new_bucket(moto: Moto, *, versioned: bool = True) -> str:
    name = f"chat-media-{uuid.uuid4().hex[:12]}"
    client = moto.client()
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def s3_config(moto: Moto) -> S3Config:
    """A versioned bucket of this test's own, as docs/deployment.md asks for."""
    return S3Config(bucket=new_bucket(moto), endpoint_url=moto.endpoint, region="us-east-1", timeout=5)


@dataclass(frozen=True)
class BucketContents:
    objects: frozenset[str]  # current objects
    versions: int  # every version and delete marker, current or not
    uploads: frozenset[str]  # keys of unfinished multipart uploads


def stored_objects(attachment: dict[str, Any]) -> set[str]:
    """The objects an attachment (as the API answers it) is stored as: its file, and its thumbnail
    and preview when they were made (videos get a thumbnail only where ffmpeg is installed)."""
    names = {str(attachment["filename"])}
    attachment_id = uuid.UUID(str(attachment["id"]))
    if attachment.get("thumbnail_url"):
        names.add(thumbnail_name(attachment_id))
    if attachment.get("preview_url"):
        names.add(rendition_name(attachment_id, Rendition.PREVIEW))
    return names


def only_deleted_versions(moto: Moto, bucket: str) -> bool:
    """True when every key left in the bucket is a deleted object's: its newest version is a delete
    marker (the bytes wait for the lifecycle rule), and none is a staging key."""
    versions = moto.client().list_object_versions(Bucket=bucket)
    latest = [v for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])] if v["IsLatest"]]
    markers = {m["Key"] for m in versions.get("DeleteMarkers", []) if m["IsLatest"]}
    return all(v["Key"] in markers and not v["Key"].startswith("staging/") for v in latest)


def contents(moto: Moto, bucket: str) -> BucketContents:
    client = moto.client()
    objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    versions = client.list_object_versions(Bucket=bucket)
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return BucketContents(
        objects=frozenset(o["Key"] for o in objects),
        versions=len(versions.get("Versions", [])) + len(versions.get("DeleteMarkers", [])),
        uploads=frozenset(u["Key"] for u in uploads),
    )


def s3_settings(config: S3Config, **downloads: Any) -> S3Settings:
    """STORAGE=s3 settings naming the bucket of `config` (and its part size, timeout, attempts)."""
    return S3Settings(
        bucket=config.bucket,
        endpoint_url=config.endpoint_url,
        region=config.region,
        prefix=config.prefix,
        part_size=config.part_size,
        timeout=config.timeout,
        public_endpoint_url=config.public_endpoint_url,
        max_attempts=config.max_attempts,
        **downloads,
    )
