"""Bearer-token authentication for every route under /api/v1, HEAD and OPTIONS included; on the
download routes, a signed media URL instead (entrypoints/http/signed_urls.py).

Litestar's JWT middleware skips HEAD and OPTIONS, accepts any scheme and reads no query token for
WebSockets, so this one does the little it must itself, over PyJWT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp

from adapters.tokens import Claims, InvalidToken, JwtVerifier
from domain.errors import NotFound
from entrypoints.http.signed_urls import MediaLinks, MediaUrlSigner, SignedGrant

SIGNED_URLS = "signed_urls"
"""A route's `opt` key: GET and HEAD may come with a signed media URL instead of a bearer token."""
MEDIA_URLS_STATE = "media_urls"  # the app's MediaUrlSigner, in `app.state`


@dataclass(frozen=True, slots=True)
class Principal:
    id: str


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, verifier: JwtVerifier, signer: MediaUrlSigner | None) -> None:
        # Every method: Litestar's default skips HEAD and OPTIONS. Mounted on the HTTP API's router
        # alone; the WebSocket authenticates itself after accepting (so a bad token gets 4401). A
        # CORS preflight never gets here: the app's CORS layer answers it before routing.
        super().__init__(app, exclude_http_methods=[])
        self._verifier = verifier
        self._signer = signer

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        if (
            self._signer is not None
            and "authorization" not in connection.headers
            and connection.route_handler.opt.get(SIGNED_URLS)
            and MediaUrlSigner.carries_signature(_query(connection))
        ):
            return self._signed(self._signer, connection)
        token = bearer_token(connection)
        try:
            claims: Claims = self._verifier.verify(token)
        except InvalidToken as exc:
            raise NotAuthorizedException(str(exc)) from None
        return AuthenticationResult(user=Principal(claims.subject), auth=claims)

    @staticmethod
    def _signed(signer: MediaUrlSigner, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        grant = (
            signer.verify(connection.scope["path"], _query(connection))
            if connection.scope.get("method") in ("GET", "HEAD")
            else None
        )
        if grant is None:
            raise NotFound("No such file.")  # the route's answer to an unknown name, word for word
        return AuthenticationResult(user=Principal(grant.viewer), auth=grant)


def _query(connection: ASGIConnection) -> Callable[[str], list[str]]:  # type: ignore[type-arg]
    query = connection.query_params
    return lambda name: query.getall(name, [])


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


def bearer_auth(verifier: JwtVerifier, signer: MediaUrlSigner | None = None) -> DefineMiddleware:
    return DefineMiddleware(BearerTokenMiddleware, verifier=verifier, signer=signer)


AuthRequest = Request[Principal, Claims | SignedGrant, State]
"""A request that passed BearerTokenMiddleware: `request.user.id` is the caller; `request.auth`
the token's claims, or the grant of a signed URL."""


def media_links(request: AuthRequest) -> MediaLinks:
    """The caller's signed media paths, for the attachments an HTTP answer carries. From the app's
    state rather than a dependency: a second dependency would put every listing route's resolution
    in a task group of its own (litestar#4563)."""
    signer: MediaUrlSigner = request.app.state[MEDIA_URLS_STATE]
    return signer.for_viewer(request.user.id)


def signed_max_age(request: AuthRequest, ceiling: int) -> int:
    """How long a browser may keep a download: never past the signed URL it came by."""
    grant = request.auth
    return grant.max_age(time.time(), ceiling) if isinstance(grant, SignedGrant) else ceiling
