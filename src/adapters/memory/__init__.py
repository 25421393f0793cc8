"""In-memory adapters with real state: what unit tests run on, and a reference for the others.

Each implements its port over plain Python objects (a `MemoryDatabase` for the unit of work and its
repositories, dicts of bytes for the file and partial stores), with the port's behaviour and errors
but no I/O, so a test needs no database, disk or network.
"""

from adapters.memory.broadcaster import RecordingBroadcaster
from adapters.memory.files import InMemoryFileStore
from adapters.memory.partials import InMemoryPartialStore
from adapters.memory.scanner import InMemoryScanner
from adapters.memory.unit_of_work import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory

__all__ = [
    "InMemoryFileStore",
    "InMemoryPartialStore",
    "InMemoryScanner",
    "InMemoryUnitOfWork",
    "InMemoryUnitOfWorkFactory",
    "RecordingBroadcaster",
]
