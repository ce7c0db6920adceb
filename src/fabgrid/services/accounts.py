"""Use cases of accounts: sign up, log in (session tokens), API keys, and resolving a bearer token.

Passwords are hashed with argon2id; tokens are random secrets of which only the SHA-256 is stored. A password
must have `MIN_PASSWORD_LEN` characters besides surrounding spaces, several distinct characters, and must not be
a common password (``data/security/common_passwords.txt``). Failed log-ins are counted per account and per client
address; past `ACCOUNT_MAX_FAILURES` / `ADDRESS_MAX_FAILURES` within `FAILURE_WINDOW` the key is locked for
`LOCKOUT` (429 with Retry-After), and every failure and lock-out is written to the audit log (`auth_events`).
`public_signup` answers the same whether or not the e-mail has an account. One transaction per use case.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fabgrid.domain.team import TeamRole
from fabgrid.errors import InputError
from fabgrid.store.uow import UnitOfWork

SESSION_TTL = timedelta(hours=12)
MIN_PASSWORD_LEN = 10
MAX_PASSWORD_LEN = 256
#: a password needs at least this many different characters ("aaaaaaaaaa" is refused)
MIN_DISTINCT_CHARS = 4
#: failed log-ins of one account, and from one client address, within FAILURE_WINDOW before a lock-out
ACCOUNT_MAX_FAILURES = 5
ADDRESS_MAX_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
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
    #: the role in a buyer organisation (services.team: "buyer" or "admin"; None outside buyer organisations)
    team_role: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A token secret shown once to the user, with its expiry."""

    token: str
    expires_at: datetime | None
    prefix: str


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginLocked(InputError):
    """Too many failed log-ins for the account or from the address: try again after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many failed log-ins for this account or from this address",
                         hint=f"try again in {max(1, round(retry_after_s / 60))} min", code="auth.locked",
                         status=429)
        self.retry_after_s = retry_after_s


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case; source in the file's header)."""
    text = (resources.files("fabgrid.data") / "security" / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(ln for ln in text.splitlines() if ln and not ln.startswith("#"))


_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def password_problem(password: str) -> str | None:
    """Why `password` is refused (None: it is accepted)."""
    if len(password) > MAX_PASSWORD_LEN:
        return f"the password has more than {MAX_PASSWORD_LEN} characters"
    if len(password.strip()) < MIN_PASSWORD_LEN:
        return f"the password needs at least {MIN_PASSWORD_LEN} characters besides leading and trailing spaces"
    if len(set(password)) < MIN_DISTINCT_CHARS:
        return f"the password needs at least {MIN_DISTINCT_CHARS} different characters"
    lower = password.strip().lower()
    base = _EDGES.sub("", lower)
    common = common_passwords()
    if lower in common or (len(base) >= 4 and base in common):
        return "the password is one of the most common passwords (or one with digits or symbols added)"
    return None


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem is not None:
        raise InputError(problem, hint="choose a passphrase of several unrelated words", code="auth.weak_password")


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
        if role == "factory" and site_id is not None and uow.catalog.site(site_id) is None:
            raise InputError(f"a factory account needs an existing site, not {site_id!r}",
                             hint="`fabgrid network` lists the sites", code="auth.bad_site")
        org = uow.organisations.by_name(organisation)
        if org is None:
            pass
        elif org.kind != kind:
            raise InputError(f"organisation {organisation!r} is a {org.kind} organisation, not {kind}",
                             hint="choose another organisation name", code="auth.org_kind", status=409)
        elif role == "buyer" or (role == "factory" and site_id is None):
            # Joining an existing buyer organisation needs an invitation; refuse silently merging.
            raise InputError(f"organisation {organisation!r} exists already",
                             hint="ask its administrator to invite you, or use another name",
                             code="auth.org_taken", status=409)
        # the e-mail last: every answer before this one is the same whether or not the e-mail has an account
        if uow.users.by_email(email) is not None:
            raise InputError(f"an account for {email} exists already", hint="log in instead",
                             code="auth.email_taken", status=409)
        if org is None:
            org = uow.organisations.add(organisation, kind, site_id if role == "factory" else None)
        user = uow.users.add(org.id, email, name.strip(), _hasher.hash(password), role)
        team_role = TeamRole.ADMIN if org.kind == "buyer" else None  # who makes a buyer organisation runs its team
        if team_role is not None:
            uow.team.set_role(user.id, team_role)
        uow.commit()
        return Principal(user.id, user.email, user.name, role, org.id, org.name, org.site_id,
                         team_role.value if team_role else None)


def add_member(uow: UnitOfWork, organisation_id: int, *, email: str, password: str, name: str,
               team_role: TeamRole) -> int:
    """A buyer user added to an existing buyer organisation with `team_role`, in the caller's transaction
    (services.team, on an accepted invitation): the e-mail, password and name are checked as at sign-up. Returns
    the user's id; 409 when the e-mail has an account (except one removed from this organisation's team: it
    comes back with the new name, password and role)."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InputError(f"email {email!r} is not a valid address", hint="use name@example.com",
                         code="auth.bad_email")
    _check_password(password)
    if not name.strip():
        raise InputError("name must not be empty", code="auth.missing_field")
    known = uow.users.by_email(email)
    if known is not None and known.removed_at is not None and known.organisation_id == organisation_id:
        known.name, known.password_hash, known.removed_at = name.strip(), _hasher.hash(password), None
        uow.team.set_role(known.id, team_role)
        return int(known.id)
    if known is not None:
        raise InputError(f"an account for {email} exists already", hint="log in with it instead, or ask for an "
                         "invitation to another address", code="auth.email_taken", status=409)
    user = uow.users.add(organisation_id, email, name.strip(), _hasher.hash(password), "buyer")
    uow.team.set_role(user.id, team_role)
    return int(user.id)


def _issue(uow: UnitOfWork, user_id: int, kind: str, name: str, ttl: timedelta | None) -> IssuedToken:
    token = ("fgk_" if kind == "api_key" else "fgs_") + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + ttl if ttl else None
    uow.tokens.add(user_id, kind, _sha(token), token[:8], name, expires)
    return IssuedToken(token=token, expires_at=expires, prefix=token[:8])


@dataclass(frozen=True)
class SignupReceipt:
    """What a public sign-up answers: the same whether the account was made or the e-mail had one already."""

    email: str
    name: str
    role: str
    organisation: str
    site_id: str | None


def public_signup(url: str, *, email: str, password: str, name: str, organisation: str, role: str = "buyer",
                  site_id: str | None = None) -> SignupReceipt:
    """`signup` for anyone (the API and the sign-up page), answering the same whether or not `email` has an
    account: a taken e-mail changes nothing and takes as long (the password is hashed either way). Every other
    refusal (bad e-mail, weak password, organisation taken) does not depend on the e-mail's account."""
    try:
        signup(url, email=email, password=password, name=name, organisation=organisation, role=role,
               site_id=site_id)
    except InputError as exc:
        if exc.code != "auth.email_taken":
            raise
        _hasher.hash(password)  # what creating the account would have cost
    return SignupReceipt(email.strip().lower(), name.strip(), role, organisation.strip(), site_id)


def _keys(email: str, address: str) -> tuple[str, str]:
    return f"acct:{email.strip().lower()[:254]}", f"addr:{address[:64]}"


def login(url: str, email: str, password: str, address: str | None = None) -> IssuedToken:
    """Check the password and issue a session token (OAuth2 password flow). `address` is the client's (the
    throttle counts failures per account and per address); LoginLocked (429) while either is locked."""
    bad = InputError("wrong email or password", hint="check both, or sign up", code="auth.invalid_credentials",
                     status=401)
    address = address or "unknown"
    acct, addr = _keys(email, address)
    who = email.strip().lower()[:254]
    with UnitOfWork(url) as uow:
        t = datetime.now(UTC)
        locked = uow.users.locked_until([acct, addr], t)
        if locked is not None:
            uow.users.auth_event("refused_locked", who, address, "log-in refused: locked out", t)
            uow.commit()
            raise LoginLocked(max(1, int((locked - t).total_seconds()) + 1))
        user = uow.users.by_email(email.strip())
        try:
            if user is None:
                _hasher.hash(password)  # spend the same time as a real check
                raise bad
            try:
                _hasher.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                raise bad from None
        except InputError:
            uow.users.auth_event("login_failed", who, address, "wrong password" if user else "no such account", t)
            for key, limit in ((acct, ACCOUNT_MAX_FAILURES), (addr, ADDRESS_MAX_FAILURES)):
                if uow.users.record_failure(key, t, t - FAILURE_WINDOW, limit, t + LOCKOUT):
                    uow.users.auth_event("locked", who, address, f"{key.split(':', 1)[0]} locked for "
                                         f"{LOCKOUT.total_seconds() / 60:.0f} min after {limit} failures", t)
            uow.commit()
            raise
        uow.users.clear_failures(acct)
        if user.removed_at is not None:
            uow.users.auth_event("refused_removed", who, address, "log-in refused: removed from the team", t)
            uow.commit()
            raise InputError("this account was removed from its organisation's team",
                             hint="ask an administrator of the organisation to invite you again",
                             code="auth.removed", status=403)
        issued = _issue(uow, user.id, "session", "login", SESSION_TTL)
        uow.commit()
        return issued


def auth_log(url: str, email: str | None = None, limit: int = 200) -> list[dict[str, str]]:
    """The authentication audit log (failed log-ins, lock-outs, refusals while locked), newest first."""
    with UnitOfWork(url) as uow:
        return [{"at": r.at.isoformat(), "event": r.event, "email": r.email, "address": r.address,
                 "detail": r.detail} for r in uow.users.auth_events(email, limit)]


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
        if user is None or user.removed_at is not None:
            return None
        org = uow.organisations.get(user.organisation_id)
        assert org is not None
        return Principal(user.id, user.email, user.name, user.role, org.id, org.name, org.site_id, user.team_role)


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
        return Principal(user.id, user.email, user.name, user.role, org.id, org.name, org.site_id, user.team_role)
