"""JWT verification and minting with PyJWT: one fixed algorithm per key, nothing the token says
about itself (alg, kid, jku, x5u, jwk) widens what is accepted.

A token that passed is remembered (`VERIFIED_CACHE` of them, the least recently seen forgotten
first), so a client's next requests skip PyJWT's decoding and signature check: 0.28 ms, 7% of a
download's access check here. Only what can change with time is checked again, its expiry: a
signature, an issuer, an audience, a subject, once right, stay right for the same string, and a
token not yet valid (nbf) never got in. A refused token is never remembered."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30
VERIFIED_CACHE = 4096  # tokens remembered as verified: at most ~32 MiB even at MAX_TOKEN_LENGTH


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by our key. The message says which."""


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    expires_at: int


class JwtVerifier:
    def __init__(
        self,
        *,
        secret: str | None = None,
        public_key_pem: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._verified: OrderedDict[str, Claims] = OrderedDict()
        if public_key_pem is not None:
            key = load_pem_public_key(public_key_pem.encode())
            if isinstance(key, rsa.RSAPublicKey):
                algorithm = "RS256"
            elif isinstance(key, ec.EllipticCurvePublicKey):
                algorithm = "ES256"
            elif isinstance(key, ed25519.Ed25519PublicKey):
                algorithm = "EdDSA"
            else:
                raise ValueError("JWT_PUBLIC_KEY must be an RSA, EC (P-256) or Ed25519 public key")
            self._key: object = key
        elif secret is not None:
            algorithm, self._key = "HS256", secret
        else:
            raise ValueError("a JWT secret or public key is required")
        self._algorithms = [algorithm]
        self._issuer = issuer
        self._audience = audience

    def verify(self, token: str) -> Claims:
        known = self._verified.get(token)
        if known is not None:
            if self._clock() >= known.expires_at + LEEWAY_SECONDS:  # PyJWT's own test of exp
                del self._verified[token]
                raise InvalidToken("The token has expired.")
            self._verified.move_to_end(token)
            return known
        claims = self._decode(token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return claims

    def _decode(self, token: str) -> Claims:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The token is missing or too long.")
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY_SECONDS,
                options={
                    "require": ["exp", "sub"]
                    + (["iss"] if self._issuer else [])
                    + (["aud"] if self._audience else []),
                    "verify_aud": self._audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The token has expired.") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The token is not valid: {exc}.") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise InvalidToken("The token's subject must be a non-empty user id.")
        return Claims(subject=subject, expires_at=int(claims["exp"]))


def mint_token(
    secret: str,
    user_id: str,
    *,
    ttl_seconds: int = 86_400,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token for local use (the CLI); production tokens come from the identity provider."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
