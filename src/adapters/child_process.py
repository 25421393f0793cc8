"""Running ffprobe and ffmpeg as bounded child processes: each in its own session (so a kill
reaches it alone), its output capped, killed when the caller's time limit cancels it."""

from __future__ import annotations

import subprocess

import anyio
from anyio.abc import ByteReceiveStream, Process

MAX_OUTPUT = 8 << 20  # bytes read from a child's stdout or stderr before it is stopped


class ChildFailed(Exception):
    """A child process failed; the message says how, in a line."""


async def run_child(command: list[str]) -> bytes:
    """The command's stdout; ChildFailed with its last error line when it exits non-zero. Killed
    when cancelled (the time limit) or when it writes more than MAX_OUTPUT."""
    async with await anyio.open_process(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as process:
        out, err = bytearray(), bytearray()
        async with anyio.create_task_group() as tasks:
            assert process.stdout is not None
            assert process.stderr is not None
            tasks.start_soon(_drain, process, process.stdout, out)
            tasks.start_soon(_drain, process, process.stderr, err)
        code = await process.wait()
    if len(out) > MAX_OUTPUT or len(err) > MAX_OUTPUT:
        raise ChildFailed("it wrote far more than it should have, and was stopped")
    if code != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise ChildFailed(lines[-1] if lines else f"it exited with status {code}")
    return bytes(out)


async def _drain(process: Process, stream: ByteReceiveStream, into: bytearray) -> None:
    async for chunk in stream:
        into += chunk
        if len(into) > MAX_OUTPUT:
            process.kill()
            return
