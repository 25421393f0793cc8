"""The FileStore on S3 (or anything that speaks its API: MinIO, Ceph, moto), through aiobotocore:
`store` holds the clients and the calls on whole files, `staged` stages and publishes (no rename on
S3, so a multipart upload copied server-side), `open_file` reads ranges pinned to one version,
`recovery` removes what failed uploads left, and `config` holds the settings and S3's limits.
"""

from adapters.files.s3.config import MIN_PART_SIZE, S3Config
from adapters.files.s3.store import S3FileStore

__all__ = ["MIN_PART_SIZE", "S3Config", "S3FileStore"]
