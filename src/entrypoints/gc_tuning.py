"""The garbage collector, tuned for a process holding thousands of sockets.

1,000 open sockets are ~155,000 tracked objects; an event to all of them has ~1,000 frames in flight
at any collection, which the default gen0 threshold (CPython's are 700, 10, 10) promotes to the old
generation by the thousand, so a full collection (90-190 ms, every socket and request of the
process frozen meanwhile) came once every ~20 events. Young collections 30x rarer promote next to
nothing: no full collection over the whole fan-out bench. Garbage without cycles is freed by
reference counting as ever; cycles wait a little longer.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (20_000, 20, 20)


def tune_collector() -> None:
    """Called once start-up is done: what it built lives as long as the process, so it goes out of
    the collector's sight, and a full collection walks only what requests and sockets made (the
    fan-out bench saw 0.3-0.5 s full collections under 1,000 sockets before)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
