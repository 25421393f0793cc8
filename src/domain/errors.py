"""One hierarchy for every refusal the service can give; the entrypoints map it to status codes."""


class MediaError(Exception):
    """Base of every domain and application error. `str(error)` is a sentence for a person."""


class NotFound(MediaError):
    """The thing does not exist, or the caller may not know that it does (never tells which)."""


class Forbidden(MediaError):
    """The caller may see the thing but not do this to it."""


class Conflict(MediaError):
    """The request contradicts the current state."""


class InvalidInput(MediaError):
    """A field is present but its value breaks a rule."""


class UnsupportedMediaType(MediaError):
    """The extension is not allowed, or the bytes are not what the extension says."""


class FileTooLarge(MediaError):
    """The file passed the size cap; nothing of it is kept."""


class ImageTooLarge(FileTooLarge):
    """The image would decode to more pixels or frames than the budget allows (a decompression bomb,
    or just too big to handle): refused from its header, before anything is decoded."""


class MalformedUpload(MediaError):
    """The upload body is not a well-formed request (broken multipart, missing parts)."""


class UploadAborted(MediaError):
    """The client went away or stalled before the upload finished; nothing is kept."""


class QuotaExceeded(MediaError):
    """The uploader's stored files would pass their storage quota; nothing of the upload is kept."""


class StorageUnavailable(MediaError):
    """The file store or the database did not answer; retrying later may work."""


class ScannerUnavailable(StorageUnavailable):
    """The malware scanner did not answer, refused the file or took too long: with scanning failing
    closed the upload is refused (503), and retrying later may work."""


class Infected(MediaError):
    """The malware scanner found a signature in a file; nothing of the upload is kept."""

    def __init__(self, original_name: str, signature: str) -> None:
        super().__init__(
            f"'{original_name}' was refused: the malware scanner found {signature} in it. "
            "Nothing of the upload was kept."
        )
        self.signature = signature
