"""The ports the use cases drive, one module per role. Adapters implement them; in-memory ones live
in `adapters.memory`.

Every port raises the domain's errors, never its technology's: an adapter that cannot reach its
backend raises `StorageUnavailable` (chained to the cause). Each method's docstring names the
other errors it raises; one that names none raises none of its own.
"""
