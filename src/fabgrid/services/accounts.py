"""Use cases of accounts: sign up, log in (session tokens), API keys, and resolving a bearer token.

Passwords are hashed with argon2id; tokens are random secrets of which only the SHA-256 is stored.
One transaction per use case.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fabgrid.errors import InputError
from fabgrid.store.uow import UnitOfWork

SESSION_TTL = timedelta(hours=12)
MIN_PASSWORD_LEN = 10
MAX_PASSWORD_LEN = 256
ROLES = ("buyer", "factory", "operator", "admin")
ORG_KIND_OF_ROLE = {"buyer": "buyer", "factory": "factory", "operator": "operator", "admin": "operator"}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,24}$")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their organisation and role, and the organisation's site (factories)."""

    user_id: int
    email: str
    name: str
    role: str
    organisation_id: int
    organisation: str
    site_id: str | None


@dataclass(frozen=True)
class IssuedToken:
    """A token secret shown once to the user, with its expiry."""

    token: str
    expires_at: datetime | None
    prefix: str


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LEN <= len(password) <= MAX_PASSWORD_LEN:
        raise InputError(f"password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long",
                         hint="choose a longer passphrase", code="auth.weak_password")


def signup(url: str, *, email: str, password: str, name: str, organisation: str, role: str = "buyer",
           site_id: str | None = None) -> Principal:
    """Create a user and, if new, their organisation. Buyers may sign up freely.

    A factory account either names an existing site (set up by the park's administrators, `fabgrid users add
    --role factory --site ...`) or, without a site, makes a new factory organisation that applies to join
    (services.factories); operator accounts are made by administrators only. The API allows ``buyer`` and
    ``factory``.
    """
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InputError(f"email {email!r} is not a valid address", hint="use name@example.com",
                         code="auth.bad_email")
    _check_password(password)
    if role not in ROLES:
        raise InputError(f"role {role!r} is unknown", hint=f"one of {', '.join(ROLES)}", code="auth.bad_role")
    organisation = organisation.strip()
    if not organisation or not name.strip():
        raise InputError("name and organisation must not be empty", code="auth.missing_field")
    kind = ORG_KIND_OF_ROLE[role]
    with UnitOfWork(url) as uow:
        if uow.users.by_email(email) is not None:
            raise InputError(f"an account for {email} exists already", hint="log in instead",
                             code="auth.email_taken", status=409)
        if role == "factory" and site_id is not None and uow.catalog.site(site_id) is None:
            raise InputError(f"a factory account needs an existing site, not {site_id!r}",
                             hint="`fabgrid network` lists the sites", code="auth.bad_site")
        org = uow.organisations.by_name(organisation)
        if org is None:
            org = uow.organisations.add(organisation, kind, site_id if role == "factory" else None)
        elif org.kind != kind:
            raise InputError(f"organisation {organisation!r} is a {org.kind} organisation, not {kind}",
                             hint="choose another organisation name", code="auth.org_kind", status=409)
        elif role == "buyer" or (role == "factory" and site_id is None):
            # Joining an existing buyer organisation needs an invitation; refuse silently merging.
            raise InputError(f"organisation {organisation!r} exists already",
                             hint="ask its administrator to invite you, or use another name",
                             code="auth.org_taken", status=409)
        user = uow.users.add(org.id, email, name.strip(), _hasher.hash(password), role)
        uow.commit()
        return Principal(user.id, user.email, user.name, role, org.id, org.name, org.site_id)


def _issue(uow: UnitOfWork, user_id: int, kind: str, name: str, ttl: timedelta | None) -> IssuedToken:
    token = ("fgk_" if kind == "api_key" else "fgs_") + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + ttl if ttl else None
    uow.tokens.add(user_id, kind, _sha(token), token[:8], name, expires)
    return IssuedToken(token=token, expires_at=expires, prefix=token[:8])


def login(url: str, email: str, password: str) -> IssuedToken:
    """Check the password and issue a session token (OAuth2 password flow)."""
    bad = InputError("wrong email or password", hint="check both, or sign up", code="auth.invalid_credentials",
                     status=401)
    with UnitOfWork(url) as uow:
        user = uow.users.by_email(email.strip())
        if user is None:
            _hasher.hash(password)  # spend the same time as a real check
            raise bad
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            raise bad from None
        issued = _issue(uow, user.id, "session", "login", SESSION_TTL)
        uow.commit()
        return issued


def create_api_key(url: str, principal: Principal, name: str) -> IssuedToken:
    """A named API key for programmatic access; it does not expire until revoked."""
    if not name.strip():
        raise InputError("an API key needs a name", hint="e.g. 'ERP integration'", code="auth.missing_field")
    with UnitOfWork(url) as uow:
        issued = _issue(uow, principal.user_id, "api_key", name.strip(), None)
        uow.commit()
        return issued


def revoke(url: str, token: str) -> None:
    """Revoke a token (logout, or deleting an API key)."""
    with UnitOfWork(url) as uow:
        row = uow.tokens.by_hash(_sha(token))
        if row is not None and row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            uow.commit()


def authenticate(url: str, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None when it is unknown, expired or revoked."""
    with UnitOfWork(url) as uow:
        row = uow.tokens.by_hash(_sha(token))
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None:
            expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
            if expires <= datetime.now(UTC):
                return None
        user = uow.users.get(row.user_id)
        if user is None:
            return None
        org = uow.organisations.get(user.organisation_id)
        assert org is not None
        return Principal(user.id, user.email, user.name, user.role, org.id, org.name, org.site_id)


def set_password(url: str, email: str, password: str) -> None:
    """Set a user's password (administrators, `fabgrid users` / `fabgrid demo seed`); NotFoundError if unknown."""
    from fabgrid.errors import NotFoundError

    _check_password(password)
    with UnitOfWork(url) as uow:
        user = uow.users.by_email(email.strip())
        if user is None:
            raise NotFoundError(f"no account for {email}", code="auth.unknown_user")
        user.password_hash = _hasher.hash(password)
        uow.commit()


def find_user(url: str, email: str) -> Principal | None:
    """The principal of the account with `email`, or None."""
    with UnitOfWork(url) as uow:
        user = uow.users.by_email(email.strip())
        if user is None:
            return None
        org = uow.organisations.get(user.organisation_id)
        assert org is not None
        return Principal(user.id, user.email, user.name, user.role, org.id, org.name, org.site_id)
