"""`chat-media serve | migrate | token USER | sweep`: what an operator or a developer runs."""

from __future__ import annotations

import argparse
import os
import sys

import anyio

from adapters.sql.database import connection_room, create_engine, upgrade_to_head
from adapters.tokens import mint_token
from entrypoints.http.web import is_built
from entrypoints.settings import Settings, load_settings
from entrypoints.settings_values import DEV_MEDIA_URL_SECRET_FILE, SettingsError, development_secret
from entrypoints.storage import check_storage

# What `make run` prints: the seed's flow, message first, then its file.
DEMO = """Start a conversation, post a message, then upload a file to it:
  export TOKEN={token}
  CONV=$(curl -s -X POST {base}/api/v1/conversations -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' -d '{"kind": "group", "title": "Demo", "member_ids": []}' \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  MSG=$(curl -s -X POST {base}/api/v1/conversations/$CONV/messages -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' -d '{"content": "look"}' \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -X POST "{base}/api/v1/media/upload" -H "Authorization: Bearer $TOKEN" \\
    -F "file=@README.md;filename=readme.txt" -F "message_id=$MSG"
"""


def _settings_with_secret() -> Settings:
    """The settings, with development secrets filled in (and exported, for the server's workers:
    every worker must verify the media URLs another signed)."""
    settings = load_settings()
    if settings.jwt_secret is None and settings.jwt_public_key is None:
        secret, made = development_secret()
        os.environ["JWT_SECRET"] = secret
        state = "generated and saved to data/.dev-jwt-secret" if made else "read from data/.dev-jwt-secret"
        print(f"JWT_SECRET was not set: a development secret was {state}:\n  {secret}", file=sys.stderr)
        settings = load_settings()
    if settings.media_url_secret is None:
        os.environ["MEDIA_URL_SECRET"], made = development_secret(DEV_MEDIA_URL_SECRET_FILE)
        state = "generated and saved to" if made else "read from"
        print(
            f"MEDIA_URL_SECRET was not set: a development key was {state} {DEV_MEDIA_URL_SECRET_FILE}",
            file=sys.stderr,
        )
        settings = load_settings()
    return settings


async def _warn_if_connections_short(settings: Settings, workers: int) -> None:
    """Each worker may open DATABASE_CONNECTIONS: say so now if PostgreSQL would refuse some under
    load, rather than let the reads fail with 503s at the busiest moment."""
    engine = create_engine(settings.database_url)
    try:
        room = await connection_room(engine)
    finally:
        await engine.dispose()
    asked = workers * settings.database_connections
    if room is not None and asked > room:
        print(
            f"Warning: {workers} worker(s) x DATABASE_CONNECTIONS={settings.database_connections} may open "
            f"{asked} connections, and PostgreSQL lets ordinary roles open {room} in all (max_connections "
            "less its reserve). Lower DATABASE_CONNECTIONS or raise max_connections.",
            file=sys.stderr,
        )


def _serve(args: argparse.Namespace) -> None:
    settings = _settings_with_secret()
    host = args.host or settings.host
    port = args.port or settings.port
    upgrade_to_head(settings.database_url)
    print(f"Database migrated: {settings.database_url}")
    anyio.run(_warn_if_connections_short, settings, args.workers)
    if settings.s3 is None:
        settings.upload_dir.mkdir(parents=True, exist_ok=True)
    else:
        anyio.run(check_storage, settings)  # a wrong bucket stops here, in one sentence
        print(f"Files are stored in S3: bucket {settings.s3.bucket}")
    if settings.jwt_secret is not None:
        token = mint_token(
            settings.jwt_secret, args.user, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        base = f"http://{host}:{port}"
        print(f"\nA development token for user '{args.user}' (valid 24 h):\n  {token}\n")
        if is_built(settings.web_dir):  # a fragment: the browser never sends it anywhere
            print(f"Sign in to the web client as '{args.user}':\n  {base}/#token={token}\n")
        print(DEMO.replace("{base}", base).replace("{token}", token))
    if not is_built(settings.web_dir):
        print(f"No web client in {settings.web_dir}: `make web` builds it.")
    from granian.constants import Interfaces

    from entrypoints.metrics_folder import metrics_folder

    with metrics_folder(enabled=settings.metrics_token is not None):
        from entrypoints.server import GracefulGranian  # it loads the metrics: after the folder

        GracefulGranian(
            "entrypoints.app:app_from_env",
            factory=True,
            interface=Interfaces.ASGI,
            address=host,
            port=port,
            workers=args.workers,
            log_access=False,  # entrypoints.http.observe writes one line per request
        ).serve()


def _migrate(_: argparse.Namespace) -> None:
    settings = load_settings()
    upgrade_to_head(settings.database_url)
    print(f"Database migrated: {settings.database_url}")


def _token(args: argparse.Namespace) -> None:
    settings = _settings_with_secret()
    if settings.jwt_secret is None:
        sys.exit("Tokens are minted here only with JWT_SECRET; with JWT_PUBLIC_KEY your provider mints them.")
    print(
        mint_token(
            settings.jwt_secret,
            args.user,
            ttl_seconds=args.ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )


def _sweep(_: argparse.Namespace) -> None:
    import asyncio

    from entrypoints.background import sweep_once

    settings = load_settings()
    report = asyncio.run(sweep_once(settings))
    print(
        f"Removed {report.drafts} draft(s) older than {settings.draft_ttl:g} s and "
        f"{report.orphans} file(s) no row named (older than {settings.orphan_grace:g} s) and "
        f"{report.uploads} resumable upload(s) past their expiry."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chat-media", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply migrations, print a dev token, and serve")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--user", default="alice", help="whom the printed development token is for")
    serve.set_defaults(run=_serve)
    commands.add_parser("migrate", help="apply pending migrations to DATABASE_URL").set_defaults(run=_migrate)
    token = commands.add_parser("token", help="mint a token for a user id (JWT_SECRET only)")
    token.add_argument("user")
    token.add_argument("--ttl", type=int, default=86_400, help="seconds the token stays valid")
    token.set_defaults(run=_token)
    sweep = commands.add_parser(
        "sweep", help="remove stale drafts, files no row names and expired resumable uploads, then report"
    )
    sweep.set_defaults(run=_sweep)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except SettingsError as exc:
        sys.exit(f"Configuration error: {exc}")


if __name__ == "__main__":
    main()
