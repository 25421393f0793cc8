"""The malware scanner: what it found in a file's bytes, before they are published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from application.ports.files import MediaSource


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What the scanner found: None when the bytes are clean, else the signature's name."""

    signature: str | None = None

    @property
    def clean(self) -> bool:
        return self.signature is None


class Scanner(Protocol):
    async def scan(self, source: MediaSource) -> Verdict:
        """Streams the bytes to the scanner (never held whole) and returns its verdict. Raises
        ScannerUnavailable when the scanner does not answer, answers an error, refuses the stream
        (its size limit) or takes longer than its timeout."""
        ...
