"""The malware scanner the settings ask for (SCAN=clamav), or none."""

from __future__ import annotations

from adapters.scan_clamd import ClamdScanner
from application.scanning import Scanning
from entrypoints.settings_values import ScanSettings


def scanning_for(settings: ScanSettings | None) -> Scanning | None:
    if settings is None:
        return None
    scanner = ClamdScanner(
        socket_path=settings.socket_path, host=settings.host, port=settings.port, timeout=settings.timeout
    )
    return Scanning(scanner, fail_open=settings.fail_open)
