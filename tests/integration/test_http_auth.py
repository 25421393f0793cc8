"""Identity: what security.md promises of tokens, shown holding through the real app."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar.testing import AsyncTestClient

from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.integration.http_fixtures import SECRET, Api, bearer

OTHER_KEY = "another-secret-" + "y" * 40
ROUTES = [
    ("GET", "/api/v1/conversations"),
    ("POST", "/api/v1/conversations"),
    ("GET", "/api/v1/conversations/00000000-0000-4000-8000-000000000000/messages"),
    ("DELETE", "/api/v1/messages/00000000-0000-4000-8000-000000000000"),
    ("POST", "/api/v1/media/upload"),
    ("GET", "/api/v1/media/files/00000000-0000-4000-8000-000000000000.png"),
    ("HEAD", "/api/v1/media/files/00000000-0000-4000-8000-000000000000.png"),
    ("OPTIONS", "/api/v1/media/files/00000000-0000-4000-8000-000000000000.png"),
    ("GET", "/api/v1/media/message/00000000-0000-4000-8000-000000000000"),
    ("DELETE", "/api/v1/media/00000000-0000-4000-8000-000000000000"),
]


def token(claims: dict[str, object], key: str = SECRET, alg: str = "HS256", **headers: object) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=headers or None)


def valid_claims(**extra: object) -> dict[str, object]:
    return {"sub": "alice", "exp": int(time.time()) + 600, **extra}


def unsigned(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_token_head_and_options_included(api: Api, method: str, path: str) -> None:
    r = await api.client.request(method, path)
    assert r.status_code == 401
    if method != "HEAD":
        assert r.json()["status_code"] == 401
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        f"Garbage {token(valid_claims())}",
        f"Basic {token(valid_claims())}",
        token(valid_claims()),
        "Bearer ",
        "Bearer not.a.token",
        f"Bearer {unsigned(valid_claims())}",
        f"Bearer {token(valid_claims(), key=OTHER_KEY)}",
        f"Bearer {token({'exp': int(time.time()) + 600})}",
        f"Bearer {token({'sub': 'alice'})}",
        f"Bearer {token({'sub': '', 'exp': int(time.time()) + 600})}",
        f"Bearer {token({'sub': 'alice', 'exp': int(time.time()) - 3600})}",
        f"Bearer {token(valid_claims(nbf=int(time.time()) + 3600))}",
        f"Bearer {token(valid_claims(), alg='HS512')}",
        f"Bearer {token(valid_claims(), key=OTHER_KEY, jku='http://127.0.0.1/k', kid='k1')}",
        "Bearer " + "a" * 20_000,
        "Bearer \u00e9\u00e9.\u00e9\u00e9.\u00e9\u00e9",
    ],
)
async def test_bad_tokens_are_401_never_500(api: Api, authorization: str) -> None:
    # Sent as raw bytes: a client may put any octets in a header, not only ASCII.
    raw = authorization.encode("utf-8")
    r = await api.client.get("/api/v1/conversations", headers={"Authorization": raw})  # type: ignore[dict-item]
    assert r.status_code == 401, r.text
    assert r.json()["detail"]


async def test_a_good_token_passes_and_the_scheme_is_case_insensitive(api: Api) -> None:
    good = token(valid_claims())
    assert (
        await api.client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {good}"})
    ).status_code == 200
    assert (
        await api.client.get("/api/v1/conversations", headers={"Authorization": f"bearer {good}"})
    ).status_code == 200


async def test_issuer_and_audience_are_checked_when_configured(settings: Settings) -> None:
    app = create_app(replace(settings, jwt_issuer="https://id.example", jwt_audience="chat-media"))
    async with AsyncTestClient(app) as client:

        async def status(claims: dict[str, object]) -> int:
            r = await client.get(
                "/api/v1/conversations", headers={"Authorization": f"Bearer {token(claims)}"}
            )
            return r.status_code

        assert await status(valid_claims(iss="https://id.example", aud="chat-media")) == 200
        assert await status(valid_claims(aud="chat-media")) == 401
        assert await status(valid_claims(iss="https://id.example")) == 401
        assert await status(valid_claims(iss="https://evil.example", aud="chat-media")) == 401
        assert await status(valid_claims(iss="https://id.example", aud="other")) == 401


async def test_public_key_mode_refuses_key_confusion(settings: Settings) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    app = create_app(replace(settings, jwt_secret=None, jwt_public_key=public_pem))
    async with AsyncTestClient(app) as client:
        rs256 = jwt.encode(valid_claims(), private, algorithm="RS256")
        ok = await client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {rs256}"})
        assert ok.status_code == 200
        # An HS256 token whose "secret" is the public key: the classic confusion attack.
        import hashlib
        import hmac

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        signing_input = f"{header}.{b64(json.dumps(valid_claims()).encode())}"
        signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
        forged = f"{signing_input}.{b64(signature)}"
        bad = await client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401
        hs = await client.get("/api/v1/conversations", headers=bearer("alice"))
        assert hs.status_code == 401
