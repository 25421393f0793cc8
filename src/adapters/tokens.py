"""JWT verification and minting with PyJWT: one fixed algorithm per key, nothing the token says
about itself (alg, kid, jku, x5u, jwk) widens what is accepted."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30


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
    ) -> None:
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
