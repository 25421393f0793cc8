"""The video remux alone: the same ffprobe answer and ffmpeg command the service runs before it
publishes a video (adapters.video_remux), timed as a child process, outside the service."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from adapters.video_probe import PROBE_ENTRIES, parse_probe
from adapters.video_remux import remux_command
from bench.media import timed


def remux_times(path: Path, runs: int) -> dict[str, float]:
    """Milliseconds of `runs` remuxes of the MP4 at `path` into a temporary file (after one not
    counted): median and range, as bench.media times its jobs."""
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        raise RuntimeError("ffmpeg is not on PATH")
    source = ["-protocol_whitelist", "file", "-f", "mov", "-i", str(path)]
    answer = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", PROBE_ENTRIES, "-of", "json", *source],
        check=True,
        capture_output=True,
        timeout=60,
    )
    probe = parse_probe(answer.stdout)
    with tempfile.TemporaryDirectory(prefix="bench-remux-") as folder:
        command = remux_command([ffmpeg], source, probe, "mp4", str(Path(folder) / "out.mp4"))
        return timed(lambda: subprocess.run(command, check=True, timeout=120), runs)
