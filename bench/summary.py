"""Turns the raw results into table rows: each figure, its peer, its target and a verdict."""

from __future__ import annotations

from typing import Any

from bench.report import Row, ratio, verdict

UPLOAD_TARGET = 300.0  # MB/s
DOWNLOAD_SHARE = 0.8  # of nginx
FLAT_MIB = 10.0  # the 50 MiB upload may add at most this much more than the 10 MiB one
CLIENT_HEADROOM = 3.0  # the client alone must be this many times faster than the service


def _upload_rows(r: dict[str, Any]) -> list[Row]:
    dd = r["dd_write_50mib"]["mb_s_median"]
    rows = []
    for key, label in (("upload_50mib", "50 MiB"), ("upload_10mib", "10 MiB")):
        speed = r[key]["mb_s_median"]
        rows.append(
            Row(
                f"Upload {label} .mp4, median of {len(r[key]['mb_s_runs'])}",
                f"{speed:,.0f} MB/s",
                "dd write 50 MiB, conv=fsync, same disk",
                f"{dd:,.0f} MB/s (service {ratio(speed, dd)})",
                f">= {UPLOAD_TARGET:.0f} MB/s",
                verdict(speed >= UPLOAD_TARGET),
            )
        )
    client = r["upload_client_ceiling"]["mb_s_median"]
    service = r["upload_50mib"]["mb_s_median"]
    rows.append(
        Row(
            "Upload client alone (discard sink)",
            f"{client:,.0f} MB/s",
            "service upload 50 MiB",
            f"{service:,.0f} MB/s",
            f"client >= {CLIENT_HEADROOM:g}x service",
            verdict(client >= CLIENT_HEADROOM * service),
        )
    )
    up50, up10 = r["upload_50mib"], r["upload_10mib"]
    g50, g10 = up50["worker_rss_growth_mib_max"], up10["worker_rss_growth_mib_max"]
    rows.append(
        Row(
            f"Worker peak RSS rise, 50 MiB upload (max of {len(up50['mb_s_runs'])})",
            f"+{g50:.1f} MiB (from {up50['worker_rss_before_mib']:.0f} MiB)",
            "same, 10 MiB upload",
            f"+{g10:.1f} MiB",
            f"flat: < +{FLAT_MIB:g} MiB over 10 MiB's",
            verdict(g50 - g10 < FLAT_MIB),
        )
    )
    return rows


def _rate(rate: dict[str, Any]) -> str:
    return f"{rate['req_s']:,.0f} req/s (p50 {rate['p50_ms']:.1f} ms, p99 {rate['p99_ms']:.1f} ms)"


def _download_rows(r: dict[str, Any]) -> list[Row]:
    service, nginx = r["service_download"], r.get("nginx_download")
    target = f">= {DOWNLOAD_SHARE:.0%} of nginx"
    peer = "nginx, sendfile, 1 worker" if nginx else "nginx (not installed)"
    rows = []
    runs = len(service["whole"]["mb_s_runs"])
    for key, label in (
        ("whole", f"Download 50 MiB (200, pathsend), median of {runs}"),
        ("whole_as_range", f"Download 50 MiB as Range bytes=0- (206), median of {runs}"),
    ):
        speed = service[key]["mb_s_median"]
        theirs = nginx[key]["mb_s_median"] if nginx else None
        rows.append(
            Row(
                label,
                f"{speed:,.0f} MB/s",
                peer,
                "—" if theirs is None else f"{theirs:,.0f} MB/s (service {ratio(speed, theirs)})",
                target,
                verdict(None if theirs is None else speed >= DOWNLOAD_SHARE * theirs),
            )
        )
    ranged, theirs_ranged = service["ranged"], nginx["ranged"] if nginx else None
    rows.append(
        Row(
            "Ranged GET bytes=0-1048575, 4 conns",
            _rate(ranged),
            peer,
            "—"
            if theirs_ranged is None
            else f"{_rate(theirs_ranged)} (service {ratio(ranged['req_s'], theirs_ranged['req_s'])})",
            target,
            verdict(
                None if theirs_ranged is None else ranged["req_s"] >= DOWNLOAD_SHARE * theirs_ranged["req_s"]
            ),
        )
    )
    return rows


def _listing_row(r: dict[str, Any]) -> Row:
    listing, static = r["listing"], r.get("nginx_listing")
    return Row(
        f"GET /media/message/{{id}} (3 attachments), {listing['connections']} conns",
        _rate(listing),
        "nginx, the same JSON as a static file" if static else "nginx (not installed)",
        "—" if static is None else f"{_rate(static)} (service {ratio(listing['req_s'], static['req_s'])})",
        "none set",
        verdict(None),
    )


def build_rows(r: dict[str, Any]) -> tuple[list[Row], list[str]]:
    rows = [*_upload_rows(r), *_download_rows(r), _listing_row(r)]
    up50, up10 = r["upload_50mib"], r["upload_10mib"]
    listing, health = r["listing"], r["health"]
    downloads = r["service_download"]
    nginx = r.get("nginx_download")
    peak = (
        "VmHWM, reset before each upload through /proc/<pid>/clear_refs (exact)"
        if up50["peak_from_vmhwm"] and up10["peak_from_vmhwm"]
        else "the largest VmRSS sampled every ~5 ms (VmHWM could not be reset)"
    )
    machine = r["machine"]
    notes = [
        "MB/s = 10^6 bytes/s (as dd prints it); MiB = 2^20 bytes. "
        f"The service runs {up50['workers']} granian worker(s); the client shares the "
        f"{machine['cores']} cores with it.",
        "Upload client: raw socket, the file sent with sendfile(2), multipart framing around it; its own "
        f"CPU was {up50['client_cpu_share_median']:.0%} of the wall time of a 50 MiB upload. Each upload "
        "was checked: one attachment, the file's size and sha256 in the answer, the file stored.",
        "Download client: raw socket, recv_into one reused 1 MiB buffer, the body dropped; the same "
        "client reads from nginx. Before timing, each server's copy was checked whole by sha256, "
        "its first MiB by Range, and bytes=0- for 206 and its length.",
        f"Worker memory: per process, {peak}. Rises per 50 MiB run (MiB): "
        f"{up50['worker_rss_growth_mib_runs']}, per 10 MiB run: {up10['worker_rss_growth_mib_runs']}; "
        f"granian's main process rose by at most +{up50['parent_rss_growth_mib_max']:.1f} MiB.",
        f"Rates by {listing['client']}: {listing['errors']} errors in the listing. For scale, at "
        f"{health['connections']} connections: GET /health (no token, one trivial query) {_rate(health)}; "
        f"the listing without a token (401 from the auth middleware, no database) {_rate(r['no_token'])}.",
        f"Runs (MB/s): upload 50 MiB {up50['mb_s_runs']}, 10 MiB {up10['mb_s_runs']}; "
        f"dd {r['dd_write_50mib']['mb_s_runs']}; download {downloads['whole']['mb_s_runs']}"
        + (f", nginx {nginx['whole']['mb_s_runs']}" if nginx else "")
        + f"; bytes=0- {downloads['whole_as_range']['mb_s_runs']}"
        + (f", nginx {nginx['whole_as_range']['mb_s_runs']}" if nginx else ""),
        "Load average (1, 5, 15 min) at start "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in machine['loadavg_at_end'])}: on a shared machine, figures are "
        "provisional.",
    ]
    for name, rate in (
        ("service ranged", downloads["ranged"]),
        ("nginx ranged", nginx["ranged"] if nginx else None),
        ("nginx listing", r.get("nginx_listing")),
        ("health", health),
    ):
        if rate is not None and rate["errors"]:
            notes.append(f"{name}: {rate['errors']} errors")
    problems = r.get("service_log_problems", [])
    notes.append(
        f"The service's log: {len(problems)} error line(s)"
        + (": " + " | ".join(p.strip()[:160] for p in problems[:5]) if problems else ".")
    )
    return rows, notes
