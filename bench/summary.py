"""Turns the raw results into table rows: each figure, its peer, its target and a verdict."""

from __future__ import annotations

import statistics
from typing import Any

from bench import upload_breakdown
from bench.report import Row, ratio, verdict

UPLOAD_TARGET = 300.0  # MB/s
VIDEO_UPLOAD_TARGET = 120.0  # MB/s, #16: a 50 MB phone video end to end, remux included
DOWNLOAD_SHARE = 0.8  # of nginx
FLAT_MIB = 10.0  # the 50 MiB upload may add at most this much more than the 10 MiB one
CLIENT_HEADROOM = 3.0  # the client alone must be this many times faster than the service
IDLE_SOCKET_KIB = 100.0  # issue 17: worker memory per idle WebSocket


# The uploads measured, by results key: #2's target is the document's row, which nothing processes.
UPLOADS = (
    ("upload_50mib_zip", "Upload 50 MiB .zip (document, no processing: #2's target)", True),
    ("upload_50mib_mp4", "Upload ~50 MiB phone .mp4, with video processing (probe, remux, poster)", False),
    ("upload_10mib_zip", "Upload 10 MiB .zip (document)", False),
    ("upload_10mib_mp4", "Upload 10 MiB .mp4, with video processing", False),
)


def _short_key(key: str) -> str:
    """upload_50mib_zip -> 50 MiB .zip"""
    size, ext = key.removeprefix("upload_").split("_")
    return f"{size.removesuffix('mib')} MiB .{ext}"


def _upload_target(key: str, targeted: bool, speed: float, processing: bool) -> tuple[str, str]:
    if targeted:
        return f">= {UPLOAD_TARGET:.0f} MB/s", verdict(speed >= UPLOAD_TARGET)
    if key == "upload_50mib_mp4" and processing:
        return f">= {VIDEO_UPLOAD_TARGET:.0f} MB/s (#16)", verdict(speed >= VIDEO_UPLOAD_TARGET)
    return "none (#2's is the .zip row)", verdict(None)


def _upload_rows(r: dict[str, Any]) -> list[Row]:
    dd = r["dd_write_50mib"]["mb_s_median"]
    rows = []
    for key, label, targeted in UPLOADS:
        up = r[key]
        speed = up["mb_s_median"]
        if key.endswith("mp4") and not r["video_processing"]:
            label = label.replace("with video processing", "NOT processed (no ffmpeg)")
        rows.append(
            Row(
                f"{label}, median of {len(up['mb_s_runs'])}",
                f"{speed:,.0f} MB/s, worker RSS +{up['worker_rss_growth_mib_max']:.1f} MiB",
                "dd write 50 MiB, conv=fsync, same disk",
                f"{dd:,.0f} MB/s (service {ratio(speed, dd)})",
                *_upload_target(key, targeted, speed, r["video_processing"]),
            )
        )
    if "remux_50mib_alone" in r:
        remux, mp4 = r["remux_50mib_alone"], r["upload_50mib_mp4"]
        rows.append(
            Row(
                f"The remux alone (ffmpeg -c copy, +faststart), ~50 MiB video, median of {remux['runs']}",
                f"{remux['median_ms']:,.0f} ms ({remux['min_ms']:,.0f}-{remux['max_ms']:,.0f})",
                "the whole upload of that video",
                f"{mp4['seconds_median'] * 1000:,.0f} ms",
                "none (its share of the upload)",
                verdict(None),
            )
        )
    client = r["upload_client_ceiling"]["mb_s_median"]
    service = r["upload_50mib_zip"]["mb_s_median"]
    rows.append(
        Row(
            "Upload client alone (discard sink)",
            f"{client:,.0f} MB/s",
            "service upload 50 MiB .zip",
            f"{service:,.0f} MB/s",
            f"client >= {CLIENT_HEADROOM:g}x service",
            verdict(client >= CLIENT_HEADROOM * service),
        )
    )
    up50, up10 = r["upload_50mib_zip"], r["upload_10mib_zip"]
    g50, g10 = up50["worker_rss_growth_mib_max"], up10["worker_rss_growth_mib_max"]
    rows.append(
        Row(
            f"Worker peak RSS rise, 50 MiB .zip upload (max of {len(up50['mb_s_runs'])})",
            f"+{g50:.1f} MiB (from {up50['worker_rss_before_mib']:.0f} MiB)",
            "same, 10 MiB .zip upload",
            f"+{g10:.1f} MiB",
            f"flat: < +{FLAT_MIB:g} MiB over 10 MiB's",
            verdict(g50 - g10 < FLAT_MIB),
        )
    )
    return rows


def upload_rows(r: dict[str, Any]) -> tuple[list[Row], list[str]]:
    """The upload rows and their notes alone (`python -m bench upload`)."""
    problems = r.get("service_log_problems", [])
    return _upload_rows(r), [
        *_upload_notes(r),
        f"dd runs (MB/s): {r['dd_write_50mib']['mb_s_runs']}. Upload runs (MB/s): "
        + "; ".join(f"{_short_key(key)} {r[key]['mb_s_runs']}" for key, _, _ in UPLOADS)
        + ". Worker peak RSS rises per run (MiB): "
        + "; ".join(f"{_short_key(key)} {r[key]['worker_rss_growth_mib_runs']}" for key, _, _ in UPLOADS),
        "Load average (1, 5, 15 min) at start "
        f"{', '.join(f'{x:.2f}' for x in r['machine']['loadavg_at_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in r['machine']['loadavg_at_end'])}: on a shared machine, figures "
        "are provisional.",
        f"The service's log: {len(problems)} error line(s)"
        + (": " + " | ".join(p.strip()[:160] for p in problems[:5]) if problems else "."),
    ]


def download_rows(r: dict[str, Any]) -> tuple[list[Row], list[str]]:
    """The download rows and their notes alone (`python -m bench download`)."""
    problems = r.get("service_log_problems", []) + r.get("front_log_problems", [])
    machine = r["machine"]
    return _download_rows(r), [
        *_floor_note(r),
        _download_runs(r),
        "Load average (1, 5, 15 min) at start "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_end'])}: on a shared machine, figures are "
        "provisional.",
        f"The services' and nginx's logs: {len(problems)} error line(s)"
        + (": " + " | ".join(p.strip()[:160] for p in problems[:5]) if problems else "."),
    ]


def _floor_note(r: dict[str, Any]) -> list[str]:
    floor = r.get("pathsend_floor")
    if floor is None:
        return []
    mine, bare = floor["service"]["mb_s_median"], floor["floor"]["mb_s_median"]
    return [
        f"The service alone against granian's own ceiling: a bare ASGI app answering the same GET by "
        f"pathsend (bench/pathsend_floor.py) made {bare:,.0f} MB/s, the service {mine:,.0f} MB/s "
        f"({ratio(mine, bare)}), {len(floor['floor']['mb_s_runs'])} downloads each, in turns. Past "
        "that ceiling only a server that sends the file itself (nginx, with X-Accel-Redirect) goes."
    ]


def _upload_notes(r: dict[str, Any]) -> list[str]:
    up50, mp4 = r["upload_50mib_zip"], r["upload_50mib_mp4"]
    processing = (
        "The .mp4 files are real videos as a phone writes them (1080p30 MPEG-4 with AAC sound, the "
        "place and the device in the tags, the index after the frames): a poster was made in "
        f"{mp4['posters']} of {len(mp4['mb_s_runs'])} 50 MiB uploads, so their time includes ffprobe, "
        "the remux without the tags (index first), its staging and hash, the poster's ffmpeg, the "
        "WebP thumbnail and the publishing."
        if r["video_processing"]
        else "ffmpeg is not installed: the .mp4 files are random bytes, kept without processing."
    )
    breakdown = r.get("upload_breakdown")
    steps = (
        []
        if breakdown is None
        else ["\n  ".join(upload_breakdown.lines(breakdown, r["dd_write_50mib"]["mb_s_median"]))]
    )
    return [
        *steps,
        "Upload client: raw socket, the file sent with sendfile(2), multipart framing around it; its "
        f"own CPU was {up50['client_cpu_share_median']:.0%} of the wall time of a 50 MiB .zip upload. "
        "The four files went up in turns, one of each per round. Each upload was checked: one "
        "attachment, the file's size and sha256 in the answer, the file stored. " + processing,
    ]


def _rate(rate: dict[str, Any]) -> str:
    return f"{rate['req_s']:,.0f} req/s (p50 {rate['p50_ms']:.1f} ms, p99 {rate['p99_ms']:.1f} ms)"


def _download_rows(r: dict[str, Any]) -> list[Row]:
    """The service alone (one process: pathsend, or Python streaming a range), then nginx in front of
    it sending what the service handed over (X-Accel-Redirect): each beside nginx alone."""
    nginx = r.get("nginx_download")
    target = f">= {DOWNLOAD_SHARE:.0%} of nginx"
    peer = "nginx alone, sendfile, 1 worker" if nginx else "nginx (not installed)"
    runs = len(r["service_download"]["whole"]["mb_s_runs"])
    rows = []
    for source, how in (
        ("service_download", "service alone"),
        ("front_download", "nginx -> service"),
        ("front_download_postgres", "nginx -> service on PostgreSQL"),
    ):
        mine = r.get(source)
        if mine is None:
            continue
        alone = source == "service_download"
        for key, label in (
            ("whole", f"Download 50 MiB (200{', pathsend' if alone else ''}), {how}, median of {runs}"),
            ("whole_as_range", f"Download 50 MiB as bytes=0- (206{', pathsend' if alone else ''}), {how}"),
            ("all_but_one", f"Download 50 MiB as bytes=1- (206{', Python' if alone else ''}), {how}"),
        ):
            if key not in mine:
                continue
            speed = mine[key]["mb_s_median"]
            theirs = nginx[key]["mb_s_median"] if nginx else None
            rows.append(
                Row(
                    label,
                    f"{speed:,.0f} MB/s",
                    peer,
                    "—" if theirs is None else f"{theirs:,.0f} MB/s ({how} {ratio(speed, theirs)})",
                    target,
                    verdict(None if theirs is None else speed >= DOWNLOAD_SHARE * theirs),
                )
            )
        ranged, theirs_ranged = mine["ranged"], nginx["ranged"] if nginx else None
        # No target: #2's is the 50 MB download. A 1 MiB answer takes nginx ~0.4 ms, so this rate
        # is mostly the service's cost per request (its access check), as the listing's is.
        rows.append(
            Row(
                f"Ranged GET bytes=0-1048575, {how}, 4 conns",
                _rate(ranged),
                peer,
                "—"
                if theirs_ranged is None
                else f"{_rate(theirs_ranged)} ({how} {ratio(ranged['req_s'], theirs_ranged['req_s'])})",
                "none set (per-request cost)",
                verdict(None),
            )
        )
    return rows


def _listing_rows(r: dict[str, Any]) -> list[Row]:
    listing, static = r["listing"], r.get("nginx_listing")
    rows = [
        Row(
            f"GET /media/message/{{id}} (3 attachments), SQLite, {listing['connections']} conns",
            _rate(listing),
            "nginx, the same JSON as a static file" if static else "nginx (not installed)",
            "—"
            if static is None
            else f"{_rate(static)} (service {ratio(listing['req_s'], static['req_s'])})",
            "none set",
            verdict(None),
        )
    ]
    on_postgres = r.get("listing_postgres")
    if on_postgres is not None:
        rows.append(
            Row(
                f"GET /media/message/{{id}} (3 attachments), PostgreSQL, {listing['connections']} conns",
                f"skipped: {on_postgres['skipped']}" if "skipped" in on_postgres else _rate(on_postgres),
                "the same on SQLite",
                _rate(listing),
                "none set",
                verdict(None),
            )
        )
    return rows


def _spread(runs: list[float]) -> str:
    """Quartiles of the runs: p25-p75 (the JSON keeps every run)."""
    if len(runs) < 4:
        return str(runs)
    q = statistics.quantiles(runs, n=4)
    return f"{q[0]:,.0f}-{q[2]:,.0f}"


_SOURCES = (
    ("service_download", "service"),
    ("front_download", "nginx -> service"),
    ("front_download_postgres", "nginx -> service on PostgreSQL"),
    ("nginx_download", "nginx"),
)


def _download_runs(r: dict[str, Any]) -> str:
    parts = []
    for key, label in (("whole", "200"), ("whole_as_range", "bytes=0-"), ("all_but_one", "bytes=1-")):
        if key not in r["service_download"]:
            continue
        mine = ", ".join(f"{who} {_spread(r[src][key]['mb_s_runs'])}" for src, who in _SOURCES if src in r)
        parts.append(f"{label}: {mine}")
    ranged = ", ".join(
        f"{who} {r[src]['ranged'].get('req_s_rounds', [r[src]['ranged']['req_s']])}"
        for src, who in _SOURCES
        if src in r
    )
    return "downloads p25-p75 MB/s: " + "; ".join(parts) + f"; ranged req/s by round: {ranged}"


def build_rows(r: dict[str, Any]) -> tuple[list[Row], list[str]]:
    rows = [*_upload_rows(r), *_download_rows(r), *_listing_rows(r)]
    up50 = r["upload_50mib_zip"]
    listing, health = r["listing"], r["health"]
    downloads = r["service_download"]
    nginx = r.get("nginx_download")
    peak = (
        "VmHWM, reset before each upload through /proc/<pid>/clear_refs (exact)"
        if all(r[key]["peak_from_vmhwm"] for key, _, _ in UPLOADS)
        else "the largest VmRSS sampled every ~5 ms (VmHWM could not be reset)"
    )
    machine = r["machine"]
    notes = [
        "MB/s = 10^6 bytes/s (as dd prints it); MiB = 2^20 bytes. "
        f"The service runs {up50['workers']} granian worker(s); the client shares the "
        f"{machine['cores']} cores with it.",
        *_upload_notes(r),
        "Download client: raw socket, recv_into one reused 1 MiB buffer, the body dropped; the same "
        "client reads from every server, one download each in turn (the order rotating), ranged rates "
        "the median of rounds taken in turn. Before timing, each server's copy was checked whole by "
        "sha256, its first MiB by Range, and bytes=0- for 206 and its length. The service alone "
        "sends a 200 and bytes=0- by pathsend (granian reads the file, 128 KiB at a time), and "
        "streams bytes=1- and the 1 MiB ranges itself. nginx -> service: "
        "deploy/nginx/chat-media.conf.template in front of a second service process (1 granian "
        "worker, ACCEL_REDIRECT_PREFIX set) over the same database and files; nginx 1 worker.",
        *_floor_note(r),
        f"Worker memory: per process, {peak}. Rises per upload run (MiB): "
        + "; ".join(f"{_short_key(key)} {r[key]['worker_rss_growth_mib_runs']}" for key, _, _ in UPLOADS)
        + f"; granian's main process rose by at most +{up50['parent_rss_growth_mib_max']:.1f} MiB.",
        f"Rates by {listing['client']}: {listing['errors']} errors in the listing. For scale, at "
        f"{health['connections']} connections: GET /health (no token, one trivial query) {_rate(health)}; "
        f"the listing without a token (401 from the auth middleware, no database) {_rate(r['no_token'])}.",
        "Runs (MB/s): "
        + "; ".join(f"upload {_short_key(key)} {r[key]['mb_s_runs']}" for key, _, _ in UPLOADS)
        + f"; dd {r['dd_write_50mib']['mb_s_runs']}; "
        + _download_runs(r),
        "Load average (1, 5, 15 min) at start "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_end'])}: on a shared machine, figures are "
        "provisional.",
    ]
    front = r.get("front_download")
    on_postgres = r.get("listing_postgres")
    if on_postgres is not None and "skipped" not in on_postgres:
        pg_problems = on_postgres["log_problems"]
        notes.append(
            "The PostgreSQL listing: a second service process (1 granian worker) over a database of "
            f"the run's own, the same message shape; its log: {len(pg_problems)} error line(s)"
            + (": " + " | ".join(p.strip()[:160] for p in pg_problems[:5]) if pg_problems else ".")
        )
    else:
        on_postgres = None
    for name, rate in (
        ("service ranged", downloads["ranged"]),
        ("listing on PostgreSQL", on_postgres),
        ("nginx ranged", nginx["ranged"] if nginx else None),
        ("nginx -> service ranged", front["ranged"] if front else None),
        ("nginx listing", r.get("nginx_listing")),
        ("health", health),
    ):
        if rate is not None and rate["errors"]:
            notes.append(f"{name}: {rate['errors']} errors")
    ws = r.get("ws_fanout")
    if ws is not None:
        if "error" in ws:
            rows.append(Row("WS fan-out", ws["error"][:200], verdict="MISS"))
        else:
            more_rows, more_notes = ws_rows(ws)
            rows += more_rows
            notes += more_notes
    problems = r.get("service_log_problems", [])
    notes.append(
        f"The service's log: {len(problems)} error line(s)"
        + (": " + " | ".join(p.strip()[:160] for p in problems[:5]) if problems else ".")
    )
    if "front_log_problems" in r:
        behind = r["front_log_problems"]
        notes.append(
            f"The logs of the service behind nginx and of nginx: {len(behind)} error line(s)"
            + (": " + " | ".join(p.strip()[:160] for p in behind[:5]) if behind else ".")
        )
    return rows, notes


def _latency(one: dict[str, Any]) -> str:
    lat = one["latency"]
    text = (
        f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms "
        f"({lat['missing']:,} missing)"
    )
    per = [r["p99_ms"] for r in one.get("rounds", []) if "p99_ms" in r]
    if per:  # the spread across messages: each message's own p99
        text += f"; per message p99 median {statistics.median(per):.1f} ({min(per):.1f}-{max(per):.1f})"
    return text


def _short(one: dict[str, Any]) -> str:
    if "latency" not in one:
        return "—"
    return f"p50 {one['latency']['p50_ms']:.1f} ms, p99 {one['latency']['p99_ms']:.1f} ms"


def _fanout_ok(one: dict[str, Any], target: float) -> bool:
    return bool(one["latency"]["p99_ms"] < target and one["latency"]["missing"] == 0)


def _kib(kib: float) -> str:
    return f"{kib:,.1f} KiB"


def _failed(label: str, r: dict[str, Any]) -> Row:
    if "skipped" in r:
        return Row(label, f"skipped: {r['skipped']}", verdict="n/a")
    return Row(label, str(r.get("error", "no figure"))[:200], verdict="MISS")


def _ws_notes(name: str, r: dict[str, Any]) -> list[str]:
    notes = []
    by = r["latency_by_instance"]
    split = (
        "; by instance: "
        + ", ".join(f"{n} p50 {s['p50_ms']:.1f} / p99 {s['p99_ms']:.1f} ms" for n, s in by.items())
        if len(by) > 1
        else ""
    )
    missing = r["missing_detail"]
    if r["latency"]["missing"]:
        split += (
            f". MISSING: {missing['receipts_missing_by_instance']} receipts by instance; "
            f"{missing['sockets_missing_all']} socket(s) heard none of the messages, "
            f"{missing['sockets_missing_some']} some (socket indices missing all, first ones: "
            f"{missing['socket_indices_missing_all'][:12]})"
        )
    cpu = ", ".join(f"{n} {c:.1f} ms" for n, c in r["server_cpu_ms_per_message"].items())
    notes.append(
        f"WS {name}: {r['latency']['receipts']:,} receipts over {r['messages']} messages (after 1 "
        f"warm-up), {r['latency']['missing']:,} missing within {r['round_timeout_s']:g} s{split}. "
        f"Per message (medians): POST answered {r['post_answered_ms_median']:.1f} ms (with no socket "
        f"open: {r['post_answered_no_socket_ms_median']:.1f} ms), first receipt "
        f"{r['first_receipt_ms_median']:.1f} ms, last {r['last_receipt_ms_median']:.1f} ms. Server CPU "
        f"per message: {cpu}. Client CPU {r['client_cpu_us_per_receipt']:.0f} us per receipt "
        f"({r['client_cpu_share']:.0%} of the wall time, gaps included); frames of {r['frame_chars']} "
        f"bytes. Open + ready: {r['open_seconds']:.1f} s for all, each p50 "
        f"{r['connect_to_ready']['p50_ms']:.1f} / p99 {r['connect_to_ready']['p99_ms']:.1f} ms "
        f"({r['open_concurrency']} at a time)."
    )
    if "client_gc" in r:
        notes.append(
            f"WS {name}, the client's collections during the rounds (its sockets frozen): "
            + ", ".join(
                f"{g} {v['count']} ({v['total_ms']:.1f} ms, max {v['max_ms']:.1f})"
                for g, v in r["client_gc"].items()
            )
        )
    mem_bits = []
    for n, m in r["memory"].items():
        seq = [
            m["rss_before_kib"],
            m["rss_idle_kib"],
            r["rss_after_messages_kib"][n],
            r["rss_after_close_kib"][n],
        ]
        text = " -> ".join(f"{k / 1024:.1f}" for k in seq)
        if "rss_idle_cycle2_kib" in r:
            text += (
                f"; the same sockets again: idle {r['rss_idle_cycle2_kib'][n] / 1024:.1f}, "
                f"closed {r['rss_after_close_cycle2_kib'][n] / 1024:.1f}"
            )
        mem_bits.append(f"{n}: {text}")
    notes.append(
        f"WS {name}, worker VmRSS in MiB (before the sockets -> all idle -> after the messages -> "
        f"all closed): {'; '.join(mem_bits)}."
    )
    for key in sorted(k for k in r if k.startswith("socket_problems")):
        p = r[key]
        if p["closed_by_server"] or p["errors"] or p["duplicates"] or p["other_frames"]:
            notes.append(f"WS {name}, the client saw ({key}): {p}")
    problems = r.get("log_problems", [])
    notes.append(
        f"WS {name}, the server's log: {len(problems)} error line(s)"
        + (": " + " | ".join(p.strip()[:160] for p in problems[:5]) if problems else ".")
    )
    return notes


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def _ab_rows(ab: dict[str, Any], targets: dict[str, float]) -> list[Row]:
    """The A/B in turns (WS_BASE_SRC): per scenario and code, the medians over the turns of each
    run's figures, and their range."""
    rows = []
    for name in ("one", "two"):
        turns = [t for t in ab.get(name, []) if "p99_ms" in t]
        by = {v: [t for t in turns if t["variant"] == v] for v in ("before", "after")}
        if not by["before"] or not by["after"]:
            continue
        text = {}
        for variant, runs in by.items():
            text[variant] = (
                f"p50 {_spread([t['p50_ms'] for t in runs])}, p99 {_spread([t['p99_ms'] for t in runs])}, "
                f"max {_spread([t['max_ms'] for t in runs])} ms, per message p99 "
                f"{_spread([t['per_message_p99_median_ms'] for t in runs])} ms, server CPU "
                f"{_spread([t['server_cpu_ms_per_message'] for t in runs])} ms/msg, "
                f"{sum(t['missing'] for t in runs)} missing"
            )
        label = "1 instance" if name == "one" else "2 instances (Redis)"
        rows.append(
            Row(
                f"WS A/B {label}: after, {len(by['after'])} turns (median (range))",
                text["after"],
                f"before ({len(by['before'])} turns, in turns with after)",
                text["before"],
                f"p99 < {targets[name]:g} ms",
                verdict(statistics.median(t["p99_ms"] for t in by["after"]) < targets[name]),
            )
        )
    return rows


def ws_rows(ws: dict[str, Any]) -> tuple[list[Row], list[str]]:
    """The WebSocket fan-out rows (bench/ws_fanout.py) and their notes; a scenario not run is left out."""
    targets = ws.get("targets_p99_ms") or {"one": ws["target_p99_ms"], "two": ws["target_p99_ms"]}
    floor, one, two = ws.get("floor", {}), ws.get("one"), ws.get("two")
    rows: list[Row] = []
    floor_label = "bare ASGI app, same server+client"
    if one is None:
        pass
    elif "latency" in one:
        rows.append(
            Row(
                f"WS fan-out, 1 instance (memory), {one['sockets']:,} sockets x {one['messages']} msgs",
                _latency(one),
                floor_label,
                _short(floor),
                f"p99 < {targets['one']:g} ms, 0 missing",
                verdict(_fanout_ok(one, targets["one"])),
            )
        )
    else:
        rows.append(_failed("WS fan-out, 1 instance (memory)", one))
    if two is None:
        pass
    elif "latency" in two:
        per = ", ".join(f"{n}: {c}" for n, c in two["sockets_per_instance"].items())
        rows.append(
            Row(
                f"WS fan-out, 2 instances (Redis; {per}), posts via a",
                _latency(two),
                "1 instance (memory)" if one else floor_label,
                _short(one) if one else _short(floor),
                f"p99 < {targets['two']:g} ms, 0 missing",
                verdict(_fanout_ok(two, targets["two"])),
            )
        )
    else:
        rows.append(_failed("WS fan-out, 2 instances (Redis)", two))
    if "latency" in floor and one is None and two is None:
        rows.append(Row(f"WS fan-out floor, {floor['sockets']:,} sockets", _latency(floor), verdict="n/a"))
    floor_mem = _kib(floor["memory"]["floor"]["kib_per_socket"]) if "memory" in floor else "—"
    if one is not None and "memory" in one:
        mem = one["memory"]["one"]
        rise = (mem["rss_idle_kib"] - mem["rss_before_kib"]) / 1024
        before = mem["rss_before_kib"] / 1024
        rows.append(
            Row(
                f"Worker RSS per idle socket, 1 instance ({mem['sockets']:,} open)",
                f"{_kib(mem['kib_per_socket'])} (+{rise:.1f} MiB from {before:.0f} MiB)",
                floor_label,
                floor_mem,
                f"<= {IDLE_SOCKET_KIB:g} KiB",
                verdict(mem["kib_per_socket"] <= IDLE_SOCKET_KIB),
            )
        )
    elif "memory" in floor:
        rows.append(Row("Worker RSS per idle socket, the floor alone", floor_mem, verdict="n/a"))
    if two is not None and "memory" in two:
        rows.append(
            Row(
                "Worker RSS per idle socket, 2 instances (Redis)",
                ", ".join(f"{n}: {_kib(m['kib_per_socket'])}" for n, m in two["memory"].items()),
                floor_label,
                floor_mem,
                f"<= {IDLE_SOCKET_KIB:g} KiB",
                verdict(all(m["kib_per_socket"] <= IDLE_SOCKET_KIB for m in two["memory"].values())),
            )
        )
    rows += _ab_rows(ws.get("ab", {}), targets)
    notes: list[str] = [
        "WS client: one asyncio loop, a minimal RFC 6455 protocol per socket, each frame stamped as "
        "its bytes arrive; latency = receipt - the moment just before the POST was sent. The floor: "
        "bench/ws_floor.py, a bare ASGI app (a queue and a sender task per socket) on granian with "
        "the service's settings."
    ]
    for name, r in (("floor", floor), ("1 instance", one or {}), ("2 instances", two or {})):
        if "latency" in r:
            notes += _ws_notes(name, r)
    if "error" in floor:
        notes.append(f"WS floor failed: {floor['error'][:300]}")
    return rows, notes
