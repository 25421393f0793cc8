"""The FileStore on local disk: staged in `root/.staging/`, published by link (never overwriting):
`store` holds the directory (staging, recovery, open, delete, list, check), `staged` writes and
publishes one file, and `open_file` reads one published file.
"""

from adapters.files.local.store import LocalFileStore

__all__ = ["LocalFileStore"]
