"""A buyer organisation's team: its members with their roles in the organisation (buyer or admin) and the
invitations sent by e-mail to join it.

Plain records, no I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class TeamRole(StrEnum):
    """What a member may do in the organisation: a buyer uploads, quotes and orders; an admin also invites
    colleagues and changes their roles."""

    BUYER = "buyer"
    ADMIN = "admin"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class TeamMember(_Frozen):
    """A user of the organisation and their role in it."""

    user_id: int
    email: str
    name: str
    team_role: TeamRole
    joined_at: datetime


class TeamInvitation(_Frozen):
    """An invitation to join an organisation (the link's secret is stored as its SHA-256 only)."""

    id: str
    organisation_id: int
    email: str
    team_role: TeamRole
    invited_by_user_id: int
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_user_id: int | None = None
    revoked_at: datetime | None = None

    def open_at(self, at: datetime) -> bool:
        """Whether the invitation can still be accepted at `at` (not used, withdrawn or expired)."""
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > at
