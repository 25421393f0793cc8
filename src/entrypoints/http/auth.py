"""Bearer-token authentication for every route under /api/v1, HEAD and OPTIONS included.

Litestar's JWT middleware skips HEAD and OPTIONS, accepts any scheme and reads no query token for
WebSockets (see litestar-notes.md), so this one does the little it must itself, over PyJWT.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp

from adapters.tokens import Claims, InvalidToken, JwtVerifier


@dataclass(frozen=True, slots=True)
class Principal:
    id: str


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, verifier: JwtVerifier) -> None:
        # Every method: Litestar's default skips HEAD and OPTIONS. Mounted on the HTTP API's router
        # alone; the WebSocket authenticates itself after accepting (so a bad token gets 4401).
        super().__init__(app, exclude_http_methods=[])
        self._verifier = verifier

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        token = bearer_token(connection)
        try:
            claims: Claims = self._verifier.verify(token)
        except InvalidToken as exc:
            raise NotAuthorizedException(str(exc)) from None
        return AuthenticationResult(user=Principal(claims.subject), auth=claims)


def bearer_token(connection: ASGIConnection) -> str:  # type: ignore[type-arg]
    header = connection.headers.get("authorization")
    if header is None:
        if connection.scope["type"] == ScopeType.WEBSOCKET:
            return connection.query_params.get("token") or ""
        raise NotAuthorizedException("An Authorization: Bearer <token> header is required.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("The Authorization header must use the Bearer scheme.")
    return token.strip()


def bearer_auth(verifier: JwtVerifier) -> DefineMiddleware:
    return DefineMiddleware(BearerTokenMiddleware, verifier=verifier)


AuthRequest = Request[Principal, Claims, State]
"""A request that passed BearerTokenMiddleware: `request.user.id` is the caller."""
