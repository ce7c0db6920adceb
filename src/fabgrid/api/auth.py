"""Authentication for the API: OAuth2 password flow bearer tokens and API keys.

`current_principal` resolves `Authorization: Bearer <token>` (a login token or an API key), else the
`fabgrid_session` cookie of the pages, for which unsafe methods also need the CSRF double-submit token. The
cookie, CSRF and role rules are services.access's, which the pages use too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from fabgrid.api.deps import get_settings
from fabgrid.config import Settings
from fabgrid.services import access
from fabgrid.services.access import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from fabgrid.services.accounts import Principal, authenticate

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _check_csrf(request: Request) -> None:
    """Cookie-authenticated unsafe calls need the double-submit token: header X-CSRF-Token equal to the
    `fabgrid_csrf` cookie (services.access)."""
    if not access.csrf_matches(request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER, "")):
        raise HTTPException(403, f"a cookie-authenticated {request.method} needs the {CSRF_HEADER} header equal to "
                                 f"the {CSRF_COOKIE} cookie (or use a bearer token)")


def current_principal(request: Request, settings: Annotated[Settings, Depends(get_settings)],
                      token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    """The authenticated caller; 401 with a WWW-Authenticate challenge otherwise."""
    if not token:
        token = request.cookies.get(SESSION_COOKIE)
        if token and access.needs_csrf(request.method):
            _check_csrf(request)
    principal = authenticate(settings.database_url, token) if token else None
    if principal is None:
        raise HTTPException(401, "missing, expired or revoked credentials: log in at POST /api/v1/auth/token "
                                 "or send an API key as a bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: str) -> object:
    """A dependency that admits only callers with one of `roles` (403 otherwise)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not access.allows(principal, roles):
            raise HTTPException(403, f"this needs one of the roles {', '.join(roles)}; you are {principal.role}")
        return principal

    return Depends(check)
