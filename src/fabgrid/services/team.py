"""Use cases of a buyer organisation's team: its members and their roles (buyer: upload, quote, order; admin: also
invite colleagues and change roles), an invitation by e-mail with a link valid for `INVITATION_TTL` that works
once, joining through the link (the account is made in the organisation with the invited role), withdrawing an
invitation. Every member sees the organisation's parts, quotes and orders (they are scoped by organisation).

The link's secret is random and only its SHA-256 is stored; the e-mail (zh-CN and en, the recipient's language is
not known) is sent by the e-mail job after the commit (services.mail). Depends on services.accounts, services.mail,
services.jobs and the store through the unit of work (`uow.team`); never on api, web or cli.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fabgrid.config import Settings
from fabgrid.domain.team import TeamInvitation, TeamMember, TeamRole
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import accounts, jobs, mail
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: How long an invitation's link can be used.
INVITATION_TTL = timedelta(days=7)
#: Invitations an organisation may have open at once.
MAX_OPEN_INVITATIONS = 50
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,24}$")


@dataclass(frozen=True)
class Team:
    """An organisation's members and its invitations not accepted yet (still open)."""

    organisation: str
    members: list[TeamMember]
    open_invitations: list[TeamInvitation]
    inviters: dict[int, str]


@dataclass(frozen=True)
class InvitationView:
    """What the join page shows of an open invitation."""

    organisation: str
    email: str
    team_role: TeamRole
    inviter: str


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_admin(who: Principal) -> bool:
    """Whether `who` administers their buyer organisation's team."""
    return who.role == "buyer" and who.team_role == TeamRole.ADMIN.value


def _buyer(who: Principal) -> None:
    if who.role != "buyer":
        raise InputError("teams are buyer organisations'", hint="log in with a buyer account", code="team.not_buyer",
                         status=403)


def _admin(who: Principal, what: str) -> None:
    _buyer(who)
    if not is_admin(who):
        raise InputError(f"only an administrator of {who.organisation} may {what}",
                         hint="ask an administrator of your organisation (the team page names them)",
                         code="team.not_admin", status=403)


def _role(value: str) -> TeamRole:
    try:
        return TeamRole(value.strip().lower())
    except ValueError:
        raise InputError(f"role {value!r} is not a team role", hint="buyer or admin", code="team.role") from None


def team(settings: Settings, who: Principal) -> Team:
    """The caller's organisation's members and open invitations (any member may read them)."""
    _buyer(who)
    with UnitOfWork(settings.database_url) as uow:
        members = uow.team.members(who.organisation_id)
        t = now()
        pending = [i for i in uow.team.invitations(who.organisation_id) if i.open_at(t)]
    names = {m.user_id: m.name for m in members}
    return Team(who.organisation, members, pending, names)


def invite(settings: Settings, who: Principal, email: str, role: str, base_url: str) -> TeamInvitation:
    """An administrator invites a colleague by e-mail to the organisation with `role` (buyer or admin); the e-mail
    with the link `{base_url}/team/join/{secret}` is sent after the commit. 403 for a member who is not an
    administrator; 409 when the address is a member already or has an open invitation."""
    _admin(who, "invite colleagues")
    team_role = _role(role)
    address = email.strip().lower()
    if not _EMAIL.match(address):
        raise InputError(f"email {address!r} is not a valid address", hint="use name@example.com",
                         code="team.email")
    token = "fgi_" + secrets.token_urlsafe(32)
    with UnitOfWork(settings.database_url) as uow:
        if any(m.email == address for m in uow.team.members(who.organisation_id)):
            raise InputError(f"{address} is a member of {who.organisation} already", hint="change their role in the "
                             "member list instead", code="team.member_exists", status=409)
        t = now()
        open_ = [i for i in uow.team.invitations(who.organisation_id, MAX_OPEN_INVITATIONS + 1) if i.open_at(t)]
        if any(i.email == address for i in open_):
            raise InputError(f"{address} has an open invitation already", hint="withdraw it to send a new one",
                             code="team.invited", status=409)
        if len(open_) >= MAX_OPEN_INVITATIONS:
            raise InputError(f"{who.organisation} has {MAX_OPEN_INVITATIONS} open invitations", hint="withdraw some "
                             "first", code="team.too_many", status=409)
        inv = uow.team.add_invitation(new_id("inv"), organisation_id=who.organisation_id, email=address,
                                      role=team_role, token_sha256=_sha(token), invited_by_user_id=who.user_id,
                                      expires_at=t + INVITATION_TTL)
        link = f"{base_url.rstrip('/')}/team/join/{token}"
        job = mail.queue(uow, [address], *_message(who, team_role, link), organisation_id=who.organisation_id)
        uow.commit()
    jobs.submit(settings, job.id)
    return inv


def _message(who: Principal, role: TeamRole, link: str) -> tuple[str, str]:
    days = INVITATION_TTL.days
    zh_role = {"buyer": "采购员", "admin": "管理员"}[role.value]
    subject = f"{who.name} 邀请您加入 {who.organisation} · {who.name} invites you to join {who.organisation} (fabgrid)"
    body = (f"{who.name}（{who.email}）邀请您以{zh_role}身份加入 fabgrid 上的 {who.organisation}。\n"
            f"打开下面的链接设置您的姓名和密码即可加入（{days} 天内有效，只能使用一次）：\n{link}\n\n"
            f"{who.name} ({who.email}) invites you to join {who.organisation} on fabgrid as {role.value}.\n"
            f"Open the link to choose your name and password and join (valid for {days} days, once):\n{link}\n")
    return subject, body


def _open(uow: UnitOfWork, token: str) -> TeamInvitation:
    inv = uow.team.by_token(_sha(token)) if token.startswith("fgi_") else None
    if inv is None or not inv.open_at(now()):
        raise NotFoundError("this invitation is not valid any more (used, withdrawn or expired)",
                            hint="ask the organisation's administrator for a new one", code="team.invitation_gone")
    return inv


def invitation(settings: Settings, token: str) -> InvitationView:
    """The open invitation of a link's secret (404 when unknown, used, withdrawn or expired)."""
    with UnitOfWork(settings.database_url) as uow:
        inv = _open(uow, token)
        org = uow.organisations.get(inv.organisation_id)
        inviter = uow.users.get(inv.invited_by_user_id)
        return InvitationView(org.name if org else "", inv.email, inv.team_role, inviter.name if inviter else "")


def accept(settings: Settings, token: str, name: str, password: str) -> str:
    """Join through an invitation's link: the account of the invited e-mail is made in the organisation with the
    invited role and the invitation is used up. Returns the e-mail (to log in with)."""
    with UnitOfWork(settings.database_url) as uow:
        inv = _open(uow, token)
        user_id = accounts.add_member(uow, inv.organisation_id, email=inv.email, password=password, name=name,
                                      team_role=inv.team_role)
        if not uow.team.accept(inv.id, user_id, now()):
            raise NotFoundError("this invitation was used or withdrawn meanwhile", code="team.invitation_gone")
        uow.commit()
        return inv.email


def set_role(settings: Settings, who: Principal, user_id: int, role: str) -> TeamMember:
    """An administrator changes a member's role; the organisation keeps at least one administrator (409)."""
    _admin(who, "change roles")
    team_role = _role(role)
    with UnitOfWork(settings.database_url) as uow:
        members = {m.user_id: m for m in uow.team.members(who.organisation_id)}
        member = members.get(user_id)
        if member is None:
            raise NotFoundError(f"{who.organisation} has no member {user_id}", code="team.member")
        admins = [m for m in members.values() if m.team_role is TeamRole.ADMIN]
        if member.team_role is TeamRole.ADMIN and team_role is not TeamRole.ADMIN and len(admins) == 1:
            raise InputError(f"{member.email} is the only administrator of {who.organisation}",
                             hint="make another member an administrator first", code="team.last_admin", status=409)
        uow.team.set_role(user_id, team_role)
        uow.commit()
        return member.model_copy(update={"team_role": team_role})


def remove_member(settings: Settings, who: Principal, user_id: int) -> TeamMember:
    """An administrator removes a member from the team: they can no longer log in and their sessions and API keys
    stop working at once; their parts, quotes and orders stay the organisation's. Not oneself (409: another
    administrator does it, so one always stays); 404 for a user not in the team."""
    _admin(who, "remove members")
    if user_id == who.user_id:
        raise InputError("you cannot remove yourself from the team",
                         hint="another administrator of your organisation can", code="team.remove_self", status=409)
    with UnitOfWork(settings.database_url) as uow:
        member = next((m for m in uow.team.members(who.organisation_id) if m.user_id == user_id), None)
        if member is None:
            raise NotFoundError(f"{who.organisation} has no member {user_id}", code="team.member")
        uow.team.remove(user_id, now())
        uow.commit()
        return member


def withdraw(settings: Settings, who: Principal, invitation_id: str) -> None:
    """An administrator withdraws an open invitation (its link stops working)."""
    _admin(who, "withdraw invitations")
    with UnitOfWork(settings.database_url) as uow:
        inv = uow.team.get(invitation_id, who.organisation_id)
        if inv is None:
            raise NotFoundError(f"invitation {invitation_id!r} not found", code="team.invitation")
        if not uow.team.revoke(inv.id, now()):
            raise InputError(f"invitation {invitation_id} was used or withdrawn already", code="team.invitation_gone",
                             status=409)
        uow.commit()
