"""The printed table (each figure beside its peer and its target) and bench/results/latest.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
WS_RESULTS = RESULTS.parent / "ws.json"  # `python -m bench ws` alone


@dataclass
class Row:
    measure: str
    value: str
    peer: str = "—"
    peer_value: str = "—"
    target: str = "—"
    verdict: str = ""


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "MISS"


def ratio(value: float, peer: float | None) -> str:
    return "—" if not peer else f"{value / peer:.0%}"


def print_table(rows: list[Row], notes: list[str]) -> None:
    header = Row("Measure", "Service", "Peer", "Peer's figure", "Target", "Verdict")
    cells = [[r.measure, r.value, r.peer, r.peer_value, r.target, r.verdict] for r in [header, *rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(6)]
    line = "+".join("-" * (w + 2) for w in widths)
    print()
    for n, row in enumerate(cells):
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print(line)
    print()
    for note in notes:
        print(f"* {note}")


def write_json(results: dict[str, object], path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path
