"""What a signed media URL costs against the bearer header it replaces in a browser.

Two measures, each in turns in one run:
- the check alone, in-process: MediaUrlSigner.verify against JwtVerifier on a token it has not
  seen (PyJWT's decode and HS256 check) and on one it has (its cache of verified tokens, what a
  client's second request meets);
- the service's answer to a download of a small photo at one connection (wrk, or the raw-socket
  client): the same file by the bearer header and by its signed URL, alternating, several rounds.

`make bench-signed` runs it; `make bench` includes its rows."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from adapters.tokens import JwtVerifier, mint_token
from bench.load import request_rate
from bench.service import Api, start_service
from entrypoints.http.signed_urls import MediaUrlSigner


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


ROUNDS = 5
SECONDS = 4  # per side and round
PATH = "/api/v1/media/files/0b6e7d1c-5d0e-4f57-9b9a-5f4b6b0c2f11.png"


def check_costs(rounds: int = ROUNDS, number: int = 20_000) -> dict[str, list[float]]:
    """Microseconds per check, one figure per round, the four checks in turns: each kind on a
    credential it has not seen (the MAC or PyJWT's decode) and on one it has (its cache)."""
    secret = "b" * 48
    signer = MediaUrlSigner("s" * 48)

    def params_of(url: str) -> dict[str, list[str]]:
        return {k: [v] for k, v in (p.split("=", 1) for p in url.partition("?")[2].split("&"))}

    links = signer.for_viewer("bob")
    paths = [f"{PATH[:-4]}-{i}.png" for i in range(number)]
    fresh_urls = [(path, params_of(links.link(path))) for path in paths]
    seen_params = params_of(links.link(PATH))
    signer.verify(PATH, lambda n: seen_params.get(n, []))
    tokens = [mint_token(secret, f"user-{i}") for i in range(number)]
    seen = JwtVerifier(secret=secret)
    seen.verify(tokens[0])
    costs: dict[str, list[float]] = {
        "signed URL, first sight": [],
        "signed URL, remembered": [],
        "JWT, first sight": [],
        "JWT, remembered": [],
    }
    for _ in range(rounds):
        unseen = MediaUrlSigner("s" * 48)
        urls = iter(fresh_urls)

        def first_url(unseen: MediaUrlSigner = unseen, urls: Any = urls) -> None:
            path, params = next(urls)
            unseen.verify(path, lambda n: params.get(n, []))

        costs["signed URL, first sight"].append(timeit.timeit(first_url, number=number) / number * 1e6)
        costs["signed URL, remembered"].append(
            timeit.timeit(lambda: signer.verify(PATH, lambda n: seen_params.get(n, [])), number=number)
            / number
            * 1e6
        )
        fresh = JwtVerifier(secret=secret)
        it = iter(tokens)
        costs["JWT, first sight"].append(
            timeit.timeit(lambda fresh=fresh, it=it: fresh.verify(next(it)), number=number) / number * 1e6
        )
        costs["JWT, remembered"].append(
            timeit.timeit(lambda: seen.verify(tokens[0]), number=number) / number * 1e6
        )
    return costs


def answer_times(
    workdir: Path, rounds: int = ROUNDS, seconds: int = SECONDS
) -> dict[str, list[dict[str, Any]]]:
    service = start_service(workdir, {"UPLOAD_RATE": "0", "SWEEP_INTERVAL": "0"})
    try:
        token = service.token("alice")
        api = Api(service, token)
        try:
            conversation = api.conversation()
            message = api.message(conversation, "bench")
            [attachment] = api.upload_small(message, [("photo.png", _png())])
        finally:
            api.close()
        signed = str(attachment["url"])
        plain = signed.partition("?")[0]
        runs: dict[str, list[dict[str, Any]]] = {"bearer header": [], "signed URL": []}
        for _ in range(rounds):
            runs["bearer header"].append(
                request_rate(service.port, plain, {"Authorization": f"Bearer {token}"}, 1, seconds).as_dict()
            )
            runs["signed URL"].append(request_rate(service.port, signed, {}, 1, seconds).as_dict())
        return runs
    finally:
        service.stop()


def _spread(values: list[float], unit: str, digits: int = 2) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"median {mid:.{digits}f} {unit} ({low:.{digits}f}-{high:.{digits}f})"


def report(costs: dict[str, list[float]], answers: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = ["The check alone, in-process (us per check, median (min-max) over the rounds):"]
    lines += [f"  {name:<24} {_spread(values, 'us')}" for name, values in costs.items()]
    lines.append("A small photo's download at 1 connection, in turns (the peer: the bearer header):")
    for name, runs in answers.items():
        p50 = [r["p50_ms"] for r in runs]
        rate = [r["req_s"] for r in runs]
        errors = sum(r["errors"] for r in runs)
        lines.append(
            f"  {name:<14} p50 {_spread(p50, 'ms', 3)}; {_spread(rate, 'req/s', 0)}; "
            f"errors {errors}; {runs[0]['client']}"
        )
    bearer = statistics.median(r["p50_ms"] for r in answers["bearer header"])
    signed = statistics.median(r["p50_ms"] for r in answers["signed URL"])
    lines.append(f"  signed / bearer answer time: {signed / bearer:.2f}x")
    return lines


def run(workdir: Path) -> dict[str, Any]:
    return {"checks_us": check_costs(), "answers": answer_times(workdir)}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-signed-") as tmp:
        started = time.monotonic()
        result = run(Path(tmp))
    print("\n".join(report(result["checks_us"], result["answers"])))
    print(f"({time.monotonic() - started:.0f} s)")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "signed_urls.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
