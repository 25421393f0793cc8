"""An S3 server for the storage benchmark: moto's server mode on a free loopback port (the same one
the tests use), a bucket with versioning on, and the object store's own speed as a ceiling: 50 MiB
put in 8 MiB parts and got back whole, by aiobotocore alone, with no service in between."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import botocore.session
import httpx
from aiobotocore.session import get_session

from bench.service import free_port
from bench.upload import MB

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
PART = 8 * (1 << 20)
# PR_SET_PDEATHSIG first: moto dies with the benchmark, even when the benchmark is killed.
MOTO_START = "import ctypes; ctypes.CDLL(None).prctl(1, 15); from moto.server import main; main()"
_CREDENTIALS = {
    "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
    "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
}


@dataclass
class ObjectStore:
    process: subprocess.Popen[bytes]
    endpoint: str
    bucket: str

    def env(self) -> dict[str, str]:
        """What a service needs to store its files here."""
        return {**AWS_ENV, "STORAGE": "s3", "S3_BUCKET": self.bucket, "S3_ENDPOINT_URL": self.endpoint}

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


def start_object_store(log: Path) -> ObjectStore:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                MOTO_START,
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"moto did not start: {log.read_text()[-1000:]}") from None
            time.sleep(0.1)
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        **_CREDENTIALS,
    )
    client.create_bucket(Bucket="chat-media-bench")
    client.put_bucket_versioning(Bucket="chat-media-bench", VersioningConfiguration={"Status": "Enabled"})
    return ObjectStore(process=process, endpoint=endpoint, bucket="chat-media-bench")


def raw_speeds(store: ObjectStore, path: Path, runs: int) -> dict[str, list[float]]:
    """MB/s of `runs` multipart puts and whole gets of the file, straight to the object store."""
    return asyncio.run(_raw(store, path, runs))


async def _raw(store: ObjectStore, path: Path, runs: int) -> dict[str, list[float]]:
    data = path.read_bytes()  # the ceiling's client may hold it: it is not the service
    speeds: dict[str, list[float]] = {"put": [], "get": []}
    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=store.endpoint,
        region_name="us-east-1",
        **_CREDENTIALS,
    ) as s3:
        for run in range(runs):
            key = f"ceiling/{run}"
            started = time.perf_counter()
            upload = await s3.create_multipart_upload(Bucket=store.bucket, Key=key)
            parts = []
            for number, offset in enumerate(range(0, len(data), PART), 1):
                answer = await s3.upload_part(
                    Bucket=store.bucket,
                    Key=key,
                    UploadId=upload["UploadId"],
                    PartNumber=number,
                    Body=data[offset : offset + PART],
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            await s3.complete_multipart_upload(
                Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
            )
            speeds["put"].append(len(data) / (time.perf_counter() - started) / MB)
            started = time.perf_counter()
            got = await s3.get_object(Bucket=store.bucket, Key=key)
            received = 0
            async with got["Body"] as body:
                while chunk := await body.read(256 * 1024):
                    received += len(chunk)
            if received != len(data):
                raise RuntimeError(f"the ceiling's GET returned {received} bytes, not {len(data)}")
            speeds["get"].append(received / (time.perf_counter() - started) / MB)
            await s3.delete_object(Bucket=store.bucket, Key=key)
    return speeds
