"""ClamAV's daemon on a unix socket of its own, with a signature database written here: the EICAR
test file's signature alone (no real database can be downloaded on these machines, and none is
needed to see the protocol, the unpacking and the cost of a stream). The tests start it the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "apt-get install -y --no-install-recommends clamav-daemon   (Debian; /usr/sbin/clamd)"
START_TIMEOUT = 30.0
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Test.EICAR"  # clamd reports it as Test.EICAR.UNOFFICIAL: not signed by ClamAV

# Everything in the work directory; nothing logged or written under /var.
CONFIG = """\
LocalSocket {dir}/clamd.sock
LocalSocketMode 600
Foreground yes
DatabaseDirectory {dir}/db
TemporaryDirectory {dir}/tmp
LogFile {dir}/clamd.log
LogTime yes
PidFile {dir}/clamd.pid
StreamMaxLength {stream_max}
MaxFileSize {stream_max}
MaxScanSize {stream_max}
MaxThreads 2
ReadTimeout 30
ScanArchive yes
ScanPDF yes
"""


def clamd_binary() -> str | None:
    return shutil.which("clamd") or next(
        (p for p in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if Path(p).is_file()), None
    )


def write_database(directory: Path) -> None:
    """A body signature (.ndb: name, any file type, any offset, the bytes in hex): the EICAR string
    anywhere in a file, or in anything clamd unpacks from it (a zip's member, a PDF's stream)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "test.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")


@dataclass
class Clamd:
    binary: str
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.workdir / "clamd.sock"

    def log(self) -> str:
        log = self.workdir / "clamd.log"
        return log.read_text(errors="replace") if log.is_file() else ""

    def start(self) -> None:
        """Starts it in a process group of its own and waits (bounded) until it answers PONG."""
        self.stop()
        self.socket_path.unlink(missing_ok=True)
        with (self.workdir / "clamd.out").open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.workdir / "clamd.conf")],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"clamd did not start:\n{self.log()[-2000:]}")
            time.sleep(0.1)

    def answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(str(self.socket_path))
                sock.sendall(b"zPING\0")
                return sock.recv(64).rstrip(b"\0") == b"PONG"
        except OSError:
            return False

    def stop(self) -> None:
        """Kills its whole process group; safe to call when it is not running."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=10)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def prepare_clamd(binary: str, workdir: Path, *, stream_max: str = "100M") -> Clamd:
    """Its config and database in `workdir`; `start()` it (and `stop()` it, whatever happens)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    write_database(workdir / "db")
    (workdir / "clamd.conf").write_text(CONFIG.format(dir=workdir, stream_max=stream_max))
    return Clamd(binary=binary, workdir=workdir)
