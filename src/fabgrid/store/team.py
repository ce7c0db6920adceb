"""A buyer organisation's team: the invitations to join it (`team_invitations`, migration 0020) and the members'
roles in it (`users.team_role`).

Returns `domain.team` records; the only SQL of teams. Used by services.team and services.accounts through the
unit of work (`uow.team`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from fabgrid.domain.team import TeamInvitation, TeamMember, TeamRole
from fabgrid.store.tables import AccessTokenRow, Base, UserRow, utcnow


class TeamInvitationRow(Base):
    """An invitation by e-mail to join a buyer organisation with a role; the link's secret as its SHA-256."""

    __tablename__ = "team_invitations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    team_role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_user_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    accepted_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


def _utc(dt: datetime | None) -> datetime | None:
    return None if dt is None else (dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def _invitation(r: TeamInvitationRow) -> TeamInvitation:
    return TeamInvitation(id=r.id, organisation_id=r.organisation_id, email=r.email, team_role=TeamRole(r.team_role),
                          invited_by_user_id=r.invited_by_user_id, created_at=_utc(r.created_at) or r.created_at,
                          expires_at=_utc(r.expires_at) or r.expires_at, accepted_at=_utc(r.accepted_at),
                          accepted_user_id=r.accepted_user_id, revoked_at=_utc(r.revoked_at))


class TeamRepository:
    """Members' roles and invitations of buyer organisations."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def members(self, organisation_id: int) -> list[TeamMember]:
        """The organisation's users with their team roles, in the order they joined (no role stored: buyer); the
        users removed from the team are left out."""
        q = (select(UserRow).where(UserRow.organisation_id == organisation_id, UserRow.removed_at.is_(None))
             .order_by(UserRow.id))
        return [TeamMember(user_id=u.id, email=u.email, name=u.name, team_role=TeamRole(u.team_role or "buyer"),
                           joined_at=_utc(u.created_at) or u.created_at) for u in self.session.scalars(q)]

    def role_of(self, user_id: int) -> TeamRole | None:
        """A user's role in their organisation (None: no role stored, or no such user)."""
        value = self.session.scalar(select(UserRow.team_role).where(UserRow.id == user_id))
        return TeamRole(value) if value else None

    def set_role(self, user_id: int, role: TeamRole) -> None:
        """Give a user `role` in their organisation."""
        self.session.execute(update(UserRow).where(UserRow.id == user_id).values(team_role=role.value)
                             .execution_options(synchronize_session=False))

    def remove(self, user_id: int, at: datetime) -> None:
        """Remove a user from their organisation's team: the account stays (for the records that name it), marked
        removed, and every token and API key of it is revoked."""
        self.session.execute(update(UserRow).where(UserRow.id == user_id).values(removed_at=at)
                             .execution_options(synchronize_session=False))
        self.session.execute(update(AccessTokenRow).where(AccessTokenRow.user_id == user_id,
                                                          AccessTokenRow.revoked_at.is_(None))
                             .values(revoked_at=at).execution_options(synchronize_session=False))

    def add_invitation(self, invitation_id: str, *, organisation_id: int, email: str, role: TeamRole,
                       token_sha256: str, invited_by_user_id: int, expires_at: datetime) -> TeamInvitation:
        """Record an invitation."""
        row = TeamInvitationRow(id=invitation_id, organisation_id=organisation_id, email=email.lower(),
                                team_role=role.value, token_sha256=token_sha256,
                                invited_by_user_id=invited_by_user_id, expires_at=expires_at)
        self.session.add(row)
        self.session.flush()
        return _invitation(row)

    def by_token(self, token_sha256: str) -> TeamInvitation | None:
        """The invitation with that secret's hash, or None."""
        row = self.session.scalar(select(TeamInvitationRow).where(TeamInvitationRow.token_sha256 == token_sha256))
        return _invitation(row) if row is not None else None

    def get(self, invitation_id: str, organisation_id: int) -> TeamInvitation | None:
        """The invitation if it is the organisation's."""
        row = self.session.get(TeamInvitationRow, invitation_id)
        return _invitation(row) if row is not None and row.organisation_id == organisation_id else None

    def invitations(self, organisation_id: int, limit: int = 200) -> list[TeamInvitation]:
        """The organisation's invitations, newest first."""
        q = (select(TeamInvitationRow).where(TeamInvitationRow.organisation_id == organisation_id)
             .order_by(TeamInvitationRow.created_at.desc(), TeamInvitationRow.id).limit(limit))
        return [_invitation(r) for r in self.session.scalars(q)]

    def accept(self, invitation_id: str, user_id: int, at: datetime) -> bool:
        """Mark an open invitation used by `user_id`; False when it was used or withdrawn meanwhile."""
        res = self.session.execute(
            update(TeamInvitationRow).where(TeamInvitationRow.id == invitation_id,
                                            TeamInvitationRow.accepted_at.is_(None),
                                            TeamInvitationRow.revoked_at.is_(None))
            .values(accepted_at=at, accepted_user_id=user_id).execution_options(synchronize_session=False))
        return bool(getattr(res, "rowcount", 0) == 1)

    def revoke(self, invitation_id: str, at: datetime) -> bool:
        """Withdraw an open invitation; False when it was used or withdrawn already."""
        res = self.session.execute(
            update(TeamInvitationRow).where(TeamInvitationRow.id == invitation_id,
                                            TeamInvitationRow.accepted_at.is_(None),
                                            TeamInvitationRow.revoked_at.is_(None))
            .values(revoked_at=at).execution_options(synchronize_session=False))
        return bool(getattr(res, "rowcount", 0) == 1)
