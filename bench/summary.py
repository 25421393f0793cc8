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
                f"Upload {label} .mp4, median of 5",
                f"{speed:,.0f} MB/s",
                "dd write 50 MiB, conv=fsync",
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
    g50, g10 = r["upload_50mib"]["rss_growth_mib_max"], r["upload_10mib"]["rss_growth_mib_max"]
    rows.append(
        Row(
            "Server RSS peak over before, 50 MiB up",
            f"+{g50:.1f} MiB (before {r['upload_50mib']['rss_before_mib']:.0f} MiB)",
            "same, 10 MiB upload",
            f"+{g10:.1f} MiB",
            f"flat: < +{FLAT_MIB:g} MiB over 10 MiB's",
            verdict(g50 - g10 < FLAT_MIB),
        )
    )
    return rows


def _rate(rate: dict[str, Any]) -> str:
    return f"{rate['req_s']:,.0f} req/s (p50 {rate['p50_ms']:.2f} ms, p99 {rate['p99_ms']:.2f} ms)"


def _download_rows(r: dict[str, Any]) -> list[Row]:
    service = r["download_service"]["mb_s_median"]
    ranged = r["ranged_service"]
    nginx, nginx_ranged = r.get("download_nginx"), r.get("ranged_nginx")
    target = f">= {DOWNLOAD_SHARE:.0%} of nginx"
    if nginx is None or nginx_ranged is None:
        return [
            Row(
                "Download 50 MiB, median of 5",
                f"{service:,.0f} MB/s",
                "nginx (not installed)",
                "—",
                target,
                verdict(None),
            ),
            Row(
                "Ranged GET bytes=0-1048575, 4 conns",
                _rate(ranged),
                "nginx (not installed)",
                "—",
                target,
                verdict(None),
            ),
        ]
    peer = nginx["mb_s_median"]
    return [
        Row(
            "Download 50 MiB, median of 5",
            f"{service:,.0f} MB/s",
            "nginx, sendfile, 1 worker",
            f"{peer:,.0f} MB/s (service {ratio(service, peer)})",
            target,
            verdict(service >= DOWNLOAD_SHARE * peer),
        ),
        Row(
            "Ranged GET bytes=0-1048575, 4 conns",
            _rate(ranged),
            "nginx, same file and range",
            f"{_rate(nginx_ranged)} (service {ratio(ranged['req_s'], nginx_ranged['req_s'])})",
            target,
            verdict(ranged["req_s"] >= DOWNLOAD_SHARE * nginx_ranged["req_s"]),
        ),
    ]


def build_rows(r: dict[str, Any]) -> tuple[list[Row], list[str]]:
    listing = r["listing"]
    rows = [
        *_upload_rows(r),
        *_download_rows(r),
        Row("GET /media/message/{id} (3 attachments)", _rate(listing), "—", "—", "none set", verdict(None)),
    ]
    up50 = r["upload_50mib"]
    notes = [
        "MB/s = 10^6 bytes/s (as dd prints it); MiB = 2^20 bytes. The service runs one granian worker.",
        "Upload client: raw socket, the file sent with sendfile(2), multipart framing around it; its own "
        f"CPU was {up50['client_cpu_share_median']:.0%} of the wall time of a 50 MiB upload.",
        "Download client: raw socket, recv_into one reused 1 MiB buffer, the body dropped; the same "
        "client reads from nginx. Each download was checked once by sha256 before timing.",
        f"Server memory: VmRSS of the server process and its children summed every ~5 ms; the largest "
        f"VmHWM rise of one process was +{up50['vmhwm_growth_mib_max']:.1f} MiB over the 50 MiB runs.",
        f"Rates by {listing['client']}; {listing['connections']} connections for the listing, "
        f"{listing['errors']} errors. The client shares the 2 cores with the server.",
        f"Upload runs (MB/s): 50 MiB {up50['mb_s_runs']}, 10 MiB {r['upload_10mib']['mb_s_runs']}; "
        f"dd {r['dd_write_50mib']['mb_s_runs']}; downloads {r['download_service']['mb_s_runs']}"
        + (f", nginx {r['download_nginx']['mb_s_runs']}" if "download_nginx" in r else ""),
    ]
    for key in ("ranged_service", "ranged_nginx"):
        if key in r and r[key]["errors"]:
            notes.append(f"{key}: {r[key]['errors']} errors")
    return rows, notes
