"""WebSocket fan-out (issue #3): one group conversation of 1,000 members, one socket each; the
latency from just before `POST …/messages` is sent to each socket's receipt of its
`message.created` frame, and the server's memory per idle socket. Once on one instance (memory
channels, SQLite), then on two instances over PostgreSQL and Redis, the sockets split between
them and the messages posted through the first. Before both, the same client against a bare ASGI
app on the same server (bench/ws_floor.py): the floor the service's figures are up against.
Receipts missing after `ROUND_TIMEOUT` are counted, by instance and by socket.

The client is one asyncio loop (bench/wsclient.py) sharing the machine's cores with the service:
its own CPU per receipt is reported beside the latencies."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench import postgres
from bench.procmem import process_tree, status_kib
from bench.service import REPO, Service, free_port, start_service, wait_healthy
from bench.wsclient import Arrivals, Socket, close_sockets, open_sockets, raise_nofile

# The group's members, creator included: up to MAX_GROUP_MEMBERS (src/domain/conversation.py).
# WS_SOCKETS runs it smaller (say 1000, for a quick look); WS_SCENARIOS picks some of
# floor,one,two; WS_CYCLES how many times the floor's and one instance's sockets are opened.
SOCKETS = int(os.environ.get("WS_SOCKETS", "10000"))
SCENARIOS = tuple(s.strip() for s in os.environ.get("WS_SCENARIOS", "floor,one,two").split(",") if s.strip())
CYCLES = int(os.environ.get("WS_CYCLES", "2"))
# An A/B in turns: WS_BASE_SRC names another checkout's src/ (`git archive <rev> src migrations
# alembic.ini`
# unpacked), put first on the services' PYTHONPATH for the "before" runs; each scenario of
# SCENARIOS but the floor then runs WS_TURNS times before, after, before, after... one socket
# cycle each.
BASE_SRC = os.environ.get("WS_BASE_SRC") or None
TURNS = int(os.environ.get("WS_TURNS", "2"))
MESSAGES = 20  # timed messages per scenario, after one warm-up message
GAP = 0.25  # seconds between one message's last receipt and the next POST
ROUND_TIMEOUT = 5.0  # seconds a message's receipts are waited for; what is not in by then is missing
OPEN_CONCURRENCY = 50  # handshakes in flight at once
OPEN_TIMEOUT = 120.0  # seconds for all the sockets to be open and `ready`
SETTLE = 3.0  # seconds of quiet before the memory of idle sockets is read
CLOSE_TIMEOUT = 5.0
SCENARIO_BUDGET = 300.0  # seconds: a scenario gives up past this
TARGETS_P99_MS = {"one": 150.0, "two": 200.0}  # issue 17, by scenario
_TICK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / _TICK


@dataclass
class Instance:
    service: Service
    name: str

    @property
    def workers(self) -> list[int]:
        return process_tree(self.service.process.pid)[1:]

    def rss_kib(self) -> int:
        """VmRSS of granian's worker process(es), summed; the main process apart."""
        return sum(status_kib(pid, "VmRSS") for pid in self.workers)

    def cpu(self) -> float:
        return _cpu_seconds(process_tree(self.service.process.pid))


def _token(secret: str, user: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + 3600}, secret, algorithm="HS256")


async def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:500]}"
        )
    return response.json()


async def _group(users: list[str], client: httpx.AsyncClient) -> str:
    """A group conversation created by users[0], the others added through `…/members`."""
    created = await _ok(
        await client.post(
            "/api/v1/conversations", json={"kind": "group", "title": "fan-out", "member_ids": []}
        )
    )
    grown = await _ok(
        await client.post(f"/api/v1/conversations/{created['id']}/members", json={"member_ids": users[1:]})
    )
    if len(grown["member_ids"]) != len(users):
        raise RuntimeError(f"the group has {len(grown['member_ids'])} members, not {len(users)}")
    return str(created["id"])


def _stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else math.nan,
        "min_ms": min(ms) if ms else math.nan,
    }


async def _post_and_wait(
    client: httpx.AsyncClient, conversation: str, arrivals: Arrivals | None, text: str
) -> tuple[str, float, float, float]:
    """POSTs one message; waits (bounded) for every socket's receipt. Returns its id, the time
    just before the POST, the seconds the POST took to be answered, and the waited seconds."""
    path = f"/api/v1/conversations/{conversation}/messages"
    started = time.perf_counter()
    answer = await client.post(path, json={"content": text})
    answered = time.perf_counter() - started
    message_id = str((await _ok(answer))["id"])
    if arrivals is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrivals.complete(message_id).wait(), ROUND_TIMEOUT)
    return message_id, started, answered, time.perf_counter() - started


def _users() -> list[str]:
    run = uuid.uuid4().hex[:8]  # Redis channels are shared with whoever else uses that Redis
    return [f"fan-{run}-{i:04d}" for i in range(SOCKETS)]


async def _scenario(
    instances: list[Instance],
    tokens: list[str],
    port_of: Callable[[int], int],
    cycles: int,
    setup: Callable[[httpx.AsyncClient], Awaitable[str]],
) -> dict[str, Any]:
    """`setup` makes the conversation (through the first instance) and returns its id."""
    poster = instances[0].service
    result: dict[str, Any] = {
        "sockets": SOCKETS,
        "messages": MESSAGES,
        "round_timeout_s": ROUND_TIMEOUT,
        "open_concurrency": OPEN_CONCURRENCY,
        "instances": [i.name for i in instances],
        "sockets_per_instance": {
            i.name: sum(1 for n in range(SOCKETS) if port_of(n) == i.service.port) for i in instances
        },
    }
    arrivals = Arrivals(SOCKETS)
    sockets: list[Socket] = []
    async with httpx.AsyncClient(
        base_url=poster.base, headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=30.0
    ) as client:
        conversation = await setup(client)
        alone = [(await _post_and_wait(client, conversation, None, f"no socket {k}"))[2] for k in range(5)]
        result["post_answered_no_socket_ms_median"] = statistics.median(alone) * 1000
        await asyncio.sleep(1.0)
        rss_before = {i.name: i.rss_kib() for i in instances}
        result["workers"] = {i.name: len(i.workers) for i in instances}
        try:
            opened = time.perf_counter()
            sockets, waits = await open_sockets(
                port_of, tokens, arrivals, concurrency=OPEN_CONCURRENCY, timeout=OPEN_TIMEOUT
            )
            result["open_seconds"] = time.perf_counter() - opened
            result["connect_to_ready"] = _stats_ms(waits)
            await asyncio.sleep(SETTLE)
            rss_idle = {i.name: i.rss_kib() for i in instances}
            result["memory"] = {
                i.name: {
                    "rss_before_kib": rss_before[i.name],
                    "rss_idle_kib": rss_idle[i.name],
                    "sockets": result["sockets_per_instance"][i.name],
                    "kib_per_socket": (rss_idle[i.name] - rss_before[i.name])
                    / max(1, result["sockets_per_instance"][i.name]),
                }
                for i in instances
            }

            # The client's 10,000 sockets out of its collector's sight: a full collection over
            # them (~130 ms, measured) would land in some message's receipts and count against
            # the server. What the rounds allocate is still collected (`client_gc` below).
            gc.collect()
            gc.freeze()
            # One warm-up message, not counted, then the timed ones.
            await _post_and_wait(client, conversation, arrivals, "warm-up")
            await asyncio.sleep(GAP)
            rounds: list[dict[str, Any]] = []
            latencies: list[float] = []
            by_instance: dict[str, list[float]] = {i.name: [] for i in instances}
            name_of_port = {i.service.port: i.name for i in instances}
            missing = 0
            missed_by_socket = [0] * SOCKETS
            pauses = _GcPauses()
            gc.callbacks.append(pauses)
            cpu0, server_cpu0 = time.process_time(), {i.name: i.cpu() for i in instances}
            wall0 = time.perf_counter()
            for k in range(MESSAGES):
                message_id, started, answered, waited = await _post_and_wait(
                    client, conversation, arrivals, f"fan-out {k}"
                )
                got = arrivals.by_message.get(message_id, [])
                these = [at - started for _, at in got]
                for index, at in got:
                    by_instance[name_of_port[port_of(index)]].append(at - started)
                latencies += these
                missing += SOCKETS - len(got)
                heard = {index for index, _ in got}
                for index in range(SOCKETS):
                    if index not in heard:
                        missed_by_socket[index] += 1
                rounds.append(
                    {
                        "received": len(got),
                        "post_answered_ms": answered * 1000,
                        "first_ms": min(these) * 1000 if these else math.nan,
                        "p50_ms": percentile(these, 50) * 1000,
                        "p99_ms": percentile(these, 99) * 1000,
                        "last_ms": max(these) * 1000 if these else math.nan,
                        "waited_ms": waited * 1000,
                    }
                )
                await asyncio.sleep(GAP)
            wall = time.perf_counter() - wall0
            client_cpu = time.process_time() - cpu0
            server_cpu = {i.name: i.cpu() - server_cpu0[i.name] for i in instances}
            result["latency"] = {**_stats_ms(latencies), "receipts": len(latencies), "missing": missing}
            result["missing_detail"] = _missing_detail(missed_by_socket, port_of, name_of_port)
            result["latency_by_instance"] = {name: _stats_ms(v) for name, v in by_instance.items()}
            result["rounds"] = rounds
            result["post_answered_ms_median"] = statistics.median(r["post_answered_ms"] for r in rounds)
            result["first_receipt_ms_median"] = statistics.median(r["first_ms"] for r in rounds)
            result["last_receipt_ms_median"] = statistics.median(r["last_ms"] for r in rounds)
            result["client_cpu_us_per_receipt"] = client_cpu / max(1, len(latencies)) * 1e6
            result["client_cpu_share"] = client_cpu / wall
            gc.callbacks.remove(pauses)
            gc.unfreeze()
            result["client_gc"] = pauses.summary()
            result["server_cpu_ms_per_message"] = {n: c / MESSAGES * 1000 for n, c in server_cpu.items()}
            result["frame_chars"] = max(s.frame_chars for s in sockets)
            result["rss_after_messages_kib"] = {i.name: i.rss_kib() for i in instances}
        finally:
            result["socket_problems"] = _problems(sockets)
            await close_sockets(sockets, CLOSE_TIMEOUT)
        await asyncio.sleep(SETTLE)
        result["rss_after_close_kib"] = {i.name: i.rss_kib() for i in instances}

        # Again, to tell a per-socket leak from memory the allocator keeps for reuse.
        for cycle in range(2, cycles + 1):
            again = Arrivals(SOCKETS)
            reopened: list[Socket] = []
            try:
                reopened, _ = await open_sockets(
                    port_of, tokens, again, concurrency=OPEN_CONCURRENCY, timeout=OPEN_TIMEOUT
                )
                await asyncio.sleep(SETTLE)
                result[f"rss_idle_cycle{cycle}_kib"] = {i.name: i.rss_kib() for i in instances}
            finally:
                result[f"socket_problems_cycle{cycle}"] = _problems(reopened)
                await close_sockets(reopened, CLOSE_TIMEOUT)
            await asyncio.sleep(SETTLE)
            result[f"rss_after_close_cycle{cycle}_kib"] = {i.name: i.rss_kib() for i in instances}
    return result


class _GcPauses:
    """The client's own garbage collections while the messages are timed: a pause of the client's
    loop delays the receipts it stamps, and would count against the server."""

    def __init__(self) -> None:
        self.started = 0.0
        self.by_generation: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.by_generation[info["generation"]].append(time.perf_counter() - self.started)

    def summary(self) -> dict[str, Any]:
        return {
            f"gen{g}": {"count": len(v), "total_ms": sum(v) * 1000, "max_ms": max(v, default=0) * 1000}
            for g, v in self.by_generation.items()
        }


def _missing_detail(
    missed_by_socket: list[int], port_of: Callable[[int], int], name_of_port: dict[int, str]
) -> dict[str, Any]:
    """Which sockets missed messages: by instance, and how many missed every one."""
    by_instance: dict[str, int] = {}
    for index, missed in enumerate(missed_by_socket):
        if missed:
            name = name_of_port[port_of(index)]
            by_instance[name] = by_instance.get(name, 0) + missed
    return {
        "receipts_missing_by_instance": by_instance,
        "sockets_missing_all": sum(1 for m in missed_by_socket if m == MESSAGES),
        "sockets_missing_some": sum(1 for m in missed_by_socket if 0 < m < MESSAGES),
        "socket_indices_missing_all": [i for i, m in enumerate(missed_by_socket) if m == MESSAGES][:200],
    }


def _problems(sockets: list[Socket]) -> dict[str, Any]:
    """What went wrong on the client's side: closes the server made, errors, duplicates."""
    closes: dict[str, int] = {}
    for s in sockets:
        by_server = s.closed_by_server
        if by_server is not None:
            key = f"{by_server[0]} {by_server[1]}".strip()
            closes[key] = closes.get(key, 0) + 1
    return {
        "closed_by_server": closes,
        "errors": sorted({e for s in sockets for e in s.errors}),
        "duplicates": sum(s.duplicates for s in sockets),
        "other_frames": sorted({f for s in sockets for f in s.other_frames})[:10],
        "pings": sum(s.pings for s in sockets),
    }


def _keep_log(service: Service, logs: Path, name: str) -> list[str]:
    service.stop()
    if service.log.is_file():
        shutil.copyfile(service.log, logs / f"ws-server-{name}.log")
    return service.log_problems()


def _start_floor(workdir: Path) -> Service:
    """bench/ws_floor.py under granian, on a free port; waits for its /health."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.ws_floor", str(port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    floor = Service(process=process, port=port, workdir=workdir, env=dict(os.environ), log=log)
    return wait_healthy(floor, "the floor app", timeout=30.0)


async def _floor_conversation(_: httpx.AsyncClient) -> str:
    return "floor"


def _floor(workdir: Path, logs: Path) -> dict[str, Any]:
    floor = _start_floor(workdir / "floor")
    try:
        scenario = _scenario(
            [Instance(floor, "floor")], ["-"] * SOCKETS, lambda _: floor.port, CYCLES, _floor_conversation
        )
        result = asyncio.run(asyncio.wait_for(scenario, SCENARIO_BUDGET))
    finally:
        problems = _keep_log(floor, logs, "floor")
    result["log_problems"] = problems
    return result


def _code(src: str | None) -> dict[str, str]:
    """The environment that runs the service from `src` (another checkout's), or from this one."""
    return {"PYTHONPATH": src} if src else {}


def _one_instance(workdir: Path, logs: Path, src: str | None = None, cycles: int = CYCLES) -> dict[str, Any]:
    secret = os.urandom(32).hex()
    # REDIS_URL emptied: memory channels even where the caller's environment names a Redis.
    service = start_service(workdir / "one", {"JWT_SECRET": secret, "REDIS_URL": "", **_code(src)})
    try:
        users = _users()
        tokens = [_token(secret, u) for u in users]
        scenario = _scenario(
            [Instance(service, "one")],
            tokens,
            lambda _: service.port,
            cycles,
            functools.partial(_group, users),
        )
        result = asyncio.run(asyncio.wait_for(scenario, SCENARIO_BUDGET))
    finally:
        problems = _keep_log(service, logs, "one")
        shutil.rmtree(workdir / "one", ignore_errors=True)  # a fresh database for the next turn
    result["log_problems"] = problems
    return result


def _two_instances(workdir: Path, logs: Path, src: str | None = None) -> dict[str, Any]:
    secret = os.urandom(32).hex()
    services: list[Service] = []
    problems: dict[str, list[str]] = {}
    with postgres.fresh_database() as database_url:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": postgres.REDIS_URL,
            "UPLOAD_DIR": str(workdir / "shared-uploads"),
            "JWT_SECRET": secret,
            **_code(src),
        }
        try:
            # One after the other: the first migrates the new database, the second finds it done.
            for label in ("a", "b"):
                services.append(start_service(workdir / label, env))
            a, b = services
            half = SOCKETS // 2
            users = _users()
            tokens = [_token(secret, u) for u in users]
            scenario = _scenario(
                [Instance(a, "a"), Instance(b, "b")],
                tokens,
                lambda i: a.port if i < half else b.port,
                1,
                functools.partial(_group, users),
            )
            result = asyncio.run(asyncio.wait_for(scenario, SCENARIO_BUDGET))
        finally:
            for service, label in zip(services, ("a", "b"), strict=False):
                problems[label] = _keep_log(service, logs, label)
    result["log_problems"] = [f"{label}: {p}" for label, lines in problems.items() for p in lines]
    return result


def run(workdir: Path, logs: Path, step: Callable[[str], None]) -> dict[str, Any]:
    """The scenarios of `SCENARIOS`; the two-instance one is skipped, with the reason, where
    PostgreSQL or Redis does not answer. `step` is told of each phase (and may raise to stop past
    a time budget)."""
    # The bench's own limit, not the product's: the client holds SOCKETS sockets, and the services
    # and the floor started below inherit the raised limit (a server holds as many). The service
    # sets no limit of its own; where it is deployed, its unit or container does.
    limits = raise_nofile(4 * SOCKETS + 1024)
    if limits[0] != resource.RLIM_INFINITY and limits[0] < SOCKETS + 512:
        raise RuntimeError(f"the open-file limit {limits} is too low for {SOCKETS} sockets")
    results: dict[str, Any] = {
        "nofile_limit": list(limits),
        "targets_p99_ms": TARGETS_P99_MS,
        "sockets": SOCKETS,
        "scenarios": list(SCENARIOS),
    }
    workdir.mkdir(parents=True, exist_ok=True)
    if "floor" in SCENARIOS:
        step(f"WebSocket fan-out floor: a bare ASGI app on granian, {SOCKETS} sockets, {MESSAGES} messages")
        results["floor"] = _guarded(_floor, workdir, logs)
    if "one" in SCENARIOS:
        step(f"WebSocket fan-out, 1 instance (memory channels): {SOCKETS} sockets, {MESSAGES} messages")
        results["one"] = _guarded(_one_instance, workdir, logs)
    if "two" in SCENARIOS:
        reason = postgres.unavailable(redis=True)
        if reason is not None:
            print(f"the two-instance WebSocket row is skipped: {reason}", flush=True)
            results["two"] = {"skipped": reason}
            return results
        step(f"WebSocket fan-out, 2 instances over PostgreSQL + Redis: {SOCKETS // 2} sockets on each")
        results["two"] = _guarded(_two_instances, workdir, logs)
    return results


def run_ab(workdir: Path, logs: Path, step: Callable[[str], None], base_src: str) -> dict[str, Any]:
    """The floor once, then each service scenario in turns: the code of `base_src` ("before"),
    this checkout's ("after"), TURNS times each. `results[name]` is the last "after" run (the
    usual rows); `results["ab"][name]` lists every turn's figures."""
    limits = raise_nofile(4 * SOCKETS + 1024)  # the bench's limit, as in run()
    results: dict[str, Any] = {
        "nofile_limit": list(limits),
        "targets_p99_ms": TARGETS_P99_MS,
        "sockets": SOCKETS,
        "scenarios": list(SCENARIOS),
        "ab": {"base_src": base_src, "turns": TURNS},
    }
    workdir.mkdir(parents=True, exist_ok=True)
    if "floor" in SCENARIOS:
        step(f"WebSocket fan-out floor: {SOCKETS} sockets")
        results["floor"] = _guarded(_floor, workdir, logs)
    runs: dict[str, Callable[[Path, Path, str | None], dict[str, Any]]] = {
        "one": lambda w, lg, src: _one_instance(w, lg, src, cycles=1),
        "two": _two_instances,
    }
    for name, scenario in runs.items():
        if name not in SCENARIOS or (name == "two" and postgres.unavailable(redis=True)):
            continue
        turns: list[dict[str, Any]] = []
        for turn in range(TURNS):
            for variant, src in (("before", base_src), ("after", None)):
                step(f"WebSocket fan-out {name}, turn {turn + 1}, {variant}: {SOCKETS} sockets")
                try:
                    result = scenario(workdir, logs, src)
                except Exception as exc:
                    print(f"{name} {variant} failed: {type(exc).__name__}: {exc}", flush=True)
                    result = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
                turns.append({"turn": turn + 1, "variant": variant, **_ab_figures(result)})
                if variant == "after":
                    results[name] = result
        results["ab"][name] = turns
    return results


def _ab_figures(result: dict[str, Any]) -> dict[str, Any]:
    if "latency" not in result:
        return {"error": result.get("error", "no figure")}
    per_message_p99 = [r["p99_ms"] for r in result["rounds"]]
    return {
        **{k: result["latency"][k] for k in ("p50_ms", "p99_ms", "max_ms", "missing")},
        "per_message_p99_median_ms": statistics.median(per_message_p99),
        "server_cpu_ms_per_message": sum(result["server_cpu_ms_per_message"].values()),
        "kib_per_socket": {n: m["kib_per_socket"] for n, m in result["memory"].items()},
    }


def _guarded(scenario: Callable[[Path, Path], dict[str, Any]], workdir: Path, logs: Path) -> dict[str, Any]:
    """The scenario's results, or what stopped it (the other scenario still runs)."""
    try:
        return scenario(workdir, logs)
    except Exception as exc:
        print(f"{scenario.__name__} failed: {type(exc).__name__}: {exc}", flush=True)
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}
