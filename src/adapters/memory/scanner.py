"""A scanner over plain bytes: it flags a configured pattern, and can be switched off like a clamd
that went away."""

from __future__ import annotations

from application.ports.files import MediaSource
from application.ports.scanner import Verdict
from domain.errors import ScannerUnavailable

CHUNK = 64 * 1024


class InMemoryScanner:
    """Finds `pattern` anywhere in the bytes (across chunk boundaries too) and names it `signature`;
    while `down` is set, every scan raises ScannerUnavailable. `scanned` counts the scans answered."""

    def __init__(self, pattern: bytes, signature: str = "Test.Pattern") -> None:
        self.pattern = pattern
        self.signature = signature
        self.down = False
        self.scanned = 0

    async def scan(self, source: MediaSource) -> Verdict:
        if self.down:
            raise ScannerUnavailable("The malware scanner did not answer.")
        tail = b""
        async for chunk in source.read(0, source.size, CHUNK):
            window = tail + chunk
            if self.pattern in window:
                self.scanned += 1
                return Verdict(signature=self.signature)
            tail = window[-(len(self.pattern) - 1) :] if len(self.pattern) > 1 else b""
        self.scanned += 1
        return Verdict()
