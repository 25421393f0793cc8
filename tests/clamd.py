"""A real clamd for the tests, with the test signature database bench/clamd.py writes (EICAR's
signature alone). Skipped with a reason when clamd is not installed, unless CI=true, where it is
required. Its process group is killed at the end of the session, whatever happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.clamd import INSTALL_HINT, Clamd, clamd_binary, prepare_clamd

from tests.databases import unavailable


@pytest.fixture(scope="session")
def clamd_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    binary = clamd_binary()
    if binary is None:
        unavailable(f"clamd is not installed ({INSTALL_HINT}): the malware scanning tests")
    daemon = prepare_clamd(binary, Path(tmp_path_factory.mktemp("clamd")))
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def clamd(clamd_daemon: Clamd) -> Clamd:
    """The session's clamd, answering: started again when an earlier test killed it."""
    if not clamd_daemon.answers():
        clamd_daemon.start()
    return clamd_daemon
