"""One file's bytes from the client into a staged file, refused at the first byte that shows it must
be: its name, its signature, its body, its size and the uploader's quota, all checked as it comes."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from application.ports.files import StagedFile
from application.ports.media import ContentSniffer
from domain.content_checks import body_check_for
from domain.errors import InvalidInput
from domain.policy import SNIFF_WINDOW, Admission, MediaPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """A file wholly staged: what it was admitted as, its size and its sha256."""

    original_name: str
    admission: Admission
    size: int
    sha256: str


class Intake:
    """Rules, in the order they apply:
    - the name's extension is allowed (415 before the first byte is read);
    - the first `SNIFF_WINDOW` bytes' signature agrees with it (415 before any byte is written);
    - the rest stays what it claimed (the kind's body check, fed every byte);
    - at most `policy.max_upload_size` bytes, and within the storage quota beside the `stored`
      bytes the uploader has (their earlier files of the same upload included), counted as they
      arrive: 413 at the byte that passes either;
    - an empty file is refused (422).
    A refusal raises; what was staged is the caller's to discard."""

    def __init__(self, policy: MediaPolicy, sniffer: ContentSniffer) -> None:
        self._policy = policy
        self._sniffer = sniffer

    async def receive(
        self, original_name: str, chunks: AsyncIterable[bytes], into: StagedFile, *, stored: int
    ) -> Received:
        self._policy.extension_of(original_name)  # an .exe is refused before its first byte
        count = _Count(self._policy, original_name, stored)
        source = aiter(chunks)
        head: list[bytes] = []
        async for chunk in source:  # the first bytes decide what the file is, before any is written
            head.append(count(chunk))
            if count.size >= SNIFF_WINDOW:
                break
        if count.size == 0:
            raise InvalidInput(f"'{original_name}' is empty.")
        admission = self._policy.admit(original_name, self._sniffer.sniff(_start(head)))
        check = body_check_for(admission.extension, admission.kind)
        sha256 = await into.fill(_counted(head, source, count), check)
        check.finish()
        return Received(original_name=original_name, admission=admission, size=count.size, sha256=sha256)


class _Count:
    """The bytes of one file so far, refused at the one that passes the cap or the quota."""

    def __init__(self, policy: MediaPolicy, original_name: str, stored: int) -> None:
        self._policy = policy
        self._name = original_name
        self._stored = stored
        self.size = 0

    def __call__(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        self._policy.check_size(self._name, self.size)
        self._policy.check_quota(self._stored, self.size)
        return chunk


def _start(chunks: list[bytes]) -> bytes:
    """The first SNIFF_WINDOW bytes of the chunks (all of them when they are fewer), copying no more."""
    head = bytearray()
    for chunk in chunks:
        head += chunk[: SNIFF_WINDOW - len(head)]
        if len(head) == SNIFF_WINDOW:
            break
    return bytes(head)


async def _counted(head: list[bytes], rest: AsyncIterator[bytes], count: _Count) -> AsyncIterator[bytes]:
    """The head already read and counted, then the rest, counted as it comes."""
    for chunk in head:
        yield chunk
    async for chunk in rest:
        yield count(chunk)
