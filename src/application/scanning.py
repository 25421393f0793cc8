"""The malware scan of an upload's files: what is published is what was scanned."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from application.ports.scanner import Scanner
from domain.errors import Infected, ScannerUnavailable

if TYPE_CHECKING:
    from application.upload_media import StagedUpload

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scanning:
    """Scanning on (SCAN=clamav): the scanner, and whether a file is stored when it does not answer
    (`fail_open`, SCAN_FAIL=open: marked unscanned, for the sweep to scan again) or refused (503)."""

    scanner: Scanner
    fail_open: bool = False


async def scan_upload(scanning: Scanning, files: Sequence[StagedUpload]) -> None:
    """Rules:
    - every file's final bytes (after processing: what is served) are scanned before any is
      published; thumbnails are drawn by the service from decoded pixels and are not;
    - a signature found in one refuses the whole upload (422 naming it), like any refusal;
    - a scanner that does not answer refuses it (503), unless `fail_open`: then this file and the
      ones after it are marked unscanned (one wait for its timeout, not one per file)."""
    for at, item in enumerate(files):
        try:
            verdict = await scanning.scanner.scan(item.staged)
        except ScannerUnavailable as exc:
            if not scanning.fail_open:
                raise
            log.warning("storing %d file(s) unscanned (SCAN_FAIL=open): %s", len(files) - at, exc)
            for rest in files[at:]:
                rest.unscanned = True
            return
        if verdict.signature is not None:
            raise Infected(item.received.original_name, verdict.signature)
