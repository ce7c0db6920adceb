"""Who may do what, and how a browser session proves it: the role rule, the session cookie and the CSRF
double-submit check, shared by the API (bearer token or cookie) and the pages (cookie and form).

HTTP-neutral (names and string checks, no framework); depends on services.accounts' Principal only, so that
api and web both import it without importing each other.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable

from fabgrid.services.accounts import Principal

#: The session cookie of a signed-in browser (HttpOnly); the API accepts it as well as a bearer token.
SESSION_COOKIE = "fabgrid_session"
#: The CSRF double-submit token: a cookie, echoed by the header (API, htmx) or the form field (pages).
CSRF_COOKIE, CSRF_HEADER, CSRF_FIELD = "fabgrid_csrf", "X-CSRF-Token", "csrf_token"
#: Methods that change nothing and so need no CSRF token.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: The role that passes every role check.
ADMIN = "admin"


def allows(who: Principal, roles: Iterable[str]) -> bool:
    """Whether `who` may act in one of `roles` (admin may do everything; no roles: any signed-in user)."""
    wanted = tuple(roles)
    return not wanted or who.role in wanted or who.role == ADMIN


def needs_csrf(method: str) -> bool:
    """Whether a cookie-authenticated request with `method` must carry the CSRF token."""
    return method.upper() not in SAFE_METHODS


def csrf_matches(cookie: str | None, sent: object) -> bool:
    """Whether the token `sent` (header or form field) equals the CSRF cookie (constant-time compare); a
    cross-site page can make the browser send the cookie but cannot read it to send it back."""
    return bool(cookie) and isinstance(sent, str) and hmac.compare_digest(str(cookie), sent)


def new_csrf_token() -> str:
    """A fresh CSRF token."""
    return secrets.token_urlsafe(32)
