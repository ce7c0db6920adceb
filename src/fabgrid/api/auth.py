"""Authentication for the API: OAuth2 password flow bearer tokens and API keys.

`current_principal` resolves `Authorization: Bearer <token>` (a login token or an API key), else the
`fabgrid_session` cookie of the pages, for which unsafe methods also need the CSRF double-submit token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from fabgrid.api.deps import get_settings
from fabgrid.config import Settings
from fabgrid.services.accounts import Principal, authenticate

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_COOKIE, CSRF_HEADER = "fabgrid_csrf", "X-CSRF-Token"


def _check_csrf(request: Request) -> None:
    """Cookie-authenticated unsafe calls need the double-submit token: header X-CSRF-Token equal to the
    `fabgrid_csrf` cookie (a cross-site page can send the cookie but cannot read it to set the header)."""
    import hmac

    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not hmac.compare_digest(cookie, header):
        raise HTTPException(403, f"a cookie-authenticated {request.method} needs the {CSRF_HEADER} header equal to "
                                 f"the {CSRF_COOKIE} cookie (or use a bearer token)")


def current_principal(request: Request, settings: Annotated[Settings, Depends(get_settings)],
                      token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    """The authenticated caller; 401 with a WWW-Authenticate challenge otherwise."""
    if not token:
        token = request.cookies.get("fabgrid_session")
        if token and request.method not in SAFE_METHODS:
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
        if principal.role not in roles and principal.role != "admin":
            raise HTTPException(403, f"this needs one of the roles {', '.join(roles)}; you are {principal.role}")
        return principal

    return Depends(check)
