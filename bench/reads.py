"""The chat reads (#17): `GET /api/v1/conversations`, a conversation's messages page (50, their
attachments inline) and a message's media, at 32 connections (wrk -t1, on the same 2 cores),
beside the floor: the same reads in a bare Litestar app on the same server and database
(bench/reads_floor.py). On SQLite, then on PostgreSQL when it answers. Each peer takes its turn
per route and round, so a burst of load on the shared machine falls on both alike; the figures
are the medians of the rounds and their range.

`READS_BASELINE=/path/to/checkout` adds a third peer in the same turns: that checkout's service
(with its own .venv) on a database of its own staged alike, for a before/after.
`READS_DATABASES=sqlite` (or `postgres`) runs one database only; `READS_WORKERS=1` one worker count
(by default 1, then 2 with the events through Redis, the floor with as many); `READS_ROUNDS` the
rounds (3 by default).

Run as `python -m bench.reads` (JSON in bench/results/reads.json)."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import postgres
from bench.load import Rate, request_rate
from bench.report import RESULTS, Row, print_table, ratio, verdict, write_json
from bench.service import REPO, Api, Service, start_floor, start_service

CONNECTIONS = 32
SECONDS = 4
ROUNDS = int(os.environ.get("READS_ROUNDS", "3"))  # more for an A/B of a small change
CONVERSATIONS = 20  # the reader's, besides the one whose history is read
MESSAGES = 60  # in the read conversation; every other one with an attachment
TARGET_RATE = 3000.0  # req/s
TARGET_P99_MS = 50.0
USER = "bench-alice"


@dataclass(frozen=True)
class Paths:
    conversations: str
    messages: str
    media: str


@dataclass(frozen=True)
class Peer:
    name: str
    service: Service
    paths: dict[str, str]
    headers: dict[str, str]


def stage(api: Api) -> tuple[Paths, dict[str, str]]:
    """The reader's conversations and one history; the service's paths and the floor's."""
    for _ in range(CONVERSATIONS):
        api.conversation()
    conversation = api.conversation()
    message = ""
    for n in range(MESSAGES):
        message = api.message(conversation, f"message {n}")
        if n % 2:
            api.upload_small(message, [(f"note{n}.txt", f"attachment of message {n}\n".encode())])
    api.upload_small(message, [(f"more{i}.txt", f"one of three {i}\n".encode()) for i in range(3)])
    ours = Paths(
        conversations="/api/v1/conversations",
        messages=f"/api/v1/conversations/{conversation}/messages",
        media=f"/api/v1/media/message/{message}",
    )
    floor = {
        "conversations": f"/conversations/{USER}",
        "messages": f"/messages/{conversation}",
        "media": f"/media/{message}",
    }
    for path in (ours.conversations, ours.messages, ours.media):
        answer = api.client.get(path)
        if answer.status_code != 200 or not answer.json():
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return ours, floor


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    else:
        with postgres.fresh_database() as url:
            yield url


def _service_peer(
    name: str, workdir: Path, env: dict[str, str], repo: Path, workers: int, stack: ExitStack
) -> tuple[Peer, dict[str, str]]:
    service = start_service(workdir, env, repo=repo, workers=workers)
    stack.callback(service.stop)
    api = Api(service, service.token(USER))
    stack.callback(api.close)
    ours, floor = stage(api)
    headers = {"Authorization": str(api.client.headers["Authorization"])}
    paths = {"conversations": ours.conversations, "messages": ours.messages, "media": ours.media}
    return Peer(name, service, paths, headers), floor


def run_scenario(kind: str, workers: int, workdir: Path, baseline: Path | None) -> dict[str, object]:
    """One database, `workers` granian workers for the service and for the floor alike."""
    # More than one worker: the events go through Redis, as they must between processes.
    extra = {} if workers == 1 else {"REDIS_URL": postgres.REDIS_URL}
    # The staging's uploads are no burst to refuse (and with Redis every peer's count is shared).
    extra["UPLOAD_RATE"] = "0"
    with ExitStack() as stack:
        url = stack.enter_context(database(kind, workdir / "ours"))
        ours, floor_paths = _service_peer(
            "service", workdir / "ours", {"DATABASE_URL": url, **extra}, REPO, workers, stack
        )
        floor_service = start_floor(
            "bench.reads_floor", workdir / "floor", {"FLOOR_DATABASE_URL": url}, "the floor", str(workers)
        )
        stack.callback(floor_service.stop)
        peers = [ours, Peer("floor", floor_service, floor_paths, {})]
        if baseline is not None:
            base_url = stack.enter_context(database(kind, workdir / "baseline"))
            base_env = {"DATABASE_URL": base_url, **extra}
            peers.append(
                _service_peer("baseline", workdir / "baseline", base_env, baseline, workers, stack)[0]
            )
        rates: dict[str, dict[str, list[Rate]]] = {r: {p.name: [] for p in peers} for r in ours.paths}
        for round_no in range(ROUNDS):
            for route in ours.paths:
                for peer in peers if round_no % 2 == 0 else reversed(peers):
                    rate = request_rate(
                        peer.service.port, peer.paths[route], peer.headers, CONNECTIONS, SECONDS
                    )
                    rates[route][peer.name].append(rate)
                    figures = f"{rate.req_s:8.0f} req/s p99 {rate.p99_ms:6.1f} ms"
                    print(f"  {kind} x{workers} {route:13} {peer.name:8} {figures}", flush=True)
        problems = {p.name: p.service.log_problems() for p in peers}
    return {
        "workers": workers,
        "routes": {r: {n: summary(v) for n, v in by.items()} for r, by in rates.items()},
        "log_problems": problems,
    }


def summary(rates: list[Rate]) -> dict[str, object]:
    return {
        "req_s_median": statistics.median(r.req_s for r in rates),
        "req_s_range": [min(r.req_s for r in rates), max(r.req_s for r in rates)],
        "p99_ms_median": statistics.median(r.p99_ms for r in rates),
        "p99_ms_range": [min(r.p99_ms for r in rates), max(r.p99_ms for r in rates)],
        "errors": sum(r.errors for r in rates),
        "rounds": [r.as_dict() for r in rates],
    }


def rows(results: dict[str, object]) -> list[Row]:
    table: list[Row] = []
    for kind, found in results.items():
        if not isinstance(found, dict) or "routes" not in found:
            continue
        for route, by_peer in found["routes"].items():
            ours, floor = by_peer["service"], by_peer["floor"]
            rate, p99 = ours["req_s_median"], ours["p99_ms_median"]
            low, high = ours["req_s_range"]
            value = f"{rate:.0f} req/s ({low:.0f}-{high:.0f}), p99 {p99:.1f} ms"
            if "baseline" in by_peer:
                before = by_peer["baseline"]
                b_low, b_high = before["req_s_range"]
                value += f"; before {before['req_s_median']:.0f} ({b_low:.0f}-{b_high:.0f})"
            table.append(
                Row(
                    f"{kind}: {route} at {CONNECTIONS} connections",
                    value,
                    "bare Litestar, same read",
                    f"{floor['req_s_median']:.0f} req/s, p99 {floor['p99_ms_median']:.1f} ms"
                    f" (ours {ratio(rate, floor['req_s_median'])} of it)",
                    f">= {TARGET_RATE:.0f} req/s, p99 < {TARGET_P99_MS:.0f} ms",
                    verdict(rate >= TARGET_RATE and p99 < TARGET_P99_MS and not ours["errors"]),
                )
            )
    return table


def main() -> int:
    baseline = Path(os.environ["READS_BASELINE"]).resolve() if os.environ.get("READS_BASELINE") else None
    kinds = os.environ.get("READS_DATABASES", "sqlite,postgres").split(",")
    worker_counts = [int(n) for n in os.environ.get("READS_WORKERS", "1,2").split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="chat-media-reads-"))
    results: dict[str, object] = {"machine": {"cores": os.cpu_count(), "loadavg_at_start": os.getloadavg()}}
    started = time.monotonic()
    try:
        for kind in kinds:
            for workers in worker_counts:
                name = f"{kind}, {workers} worker{'s' if workers > 1 else ''}"
                reason = postgres.unavailable(redis=workers > 1) if kind == "postgres" else None
                if (
                    reason is None
                    and workers > 1
                    and not postgres.reachable(postgres.REDIS_HOST, postgres.REDIS_PORT)
                ):
                    reason = "Redis does not answer (more than one worker needs it)"
                if reason is not None:
                    print(f"{name}: skipped: {reason}")
                    results[name] = {"skipped": reason}
                    continue
                elapsed = time.monotonic() - started
                print(f"[{elapsed:6.1f} s] {name}: staging, then {ROUNDS} rounds of {SECONDS} s each")
                results[name] = run_scenario(kind, workers, workdir / f"{kind}-{workers}", baseline)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["machine"]["loadavg_at_end"] = os.getloadavg()  # type: ignore[index]
    print_table(
        rows(results),
        ["wrk -t1 shares the 2 cores with the server: the client's own CPU is in every figure."],
    )
    print(f"\nJSON: {write_json(results, RESULTS.parent / 'reads.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
