"""A buyer organisation's team: GET /api/v1/team (members and open invitations), POST /api/v1/team/invitations
(an administrator invites a colleague by e-mail), DELETE /api/v1/team/invitations/{id}, PATCH
/api/v1/team/members/{user_id} {role}, POST /api/v1/team/join {token, name, password} (the invitee joins).

A member who is not an administrator gets 403 problem+json (team.not_admin) for the administrators' calls.
Depends on services.team only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.config import Settings
from fabgrid.domain.team import TeamInvitation, TeamMember, TeamRole
from fabgrid.services import team

router = APIRouter(prefix="/api/v1/team", tags=["team"])
SettingsDep = Annotated[Settings, Depends(get_settings)]
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class InvitationBody(BaseModel):
    """A colleague to invite and the role they get."""

    email: str = Field(max_length=254, examples=["colleague@example.com"])
    role: TeamRole = TeamRole.BUYER


class RoleBody(BaseModel):
    """A member's new role."""

    role: TeamRole


class JoinBody(BaseModel):
    """Joining through an invitation: the link's secret, the new member's name and password."""

    token: str = Field(min_length=8, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=256)


def _member(m: TeamMember) -> dict[str, Any]:
    return {"user_id": m.user_id, "email": m.email, "name": m.name, "role": m.team_role.value,
            "joined_at": m.joined_at.isoformat()}


def _invitation(i: TeamInvitation) -> dict[str, Any]:
    return {"id": i.id, "email": i.email, "role": i.team_role.value, "invited_by_user_id": i.invited_by_user_id,
            "created_at": i.created_at.isoformat(), "expires_at": i.expires_at.isoformat(),
            "links": {"self": f"/api/v1/team/invitations/{i.id}"}}


@router.get("", summary="The organisation's members with their roles and the open invitations")
def get_team(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    t = team.team(settings, principal)
    return {"organisation": t.organisation, "members": [_member(m) for m in t.members],
            "invitations": [_invitation(i) for i in t.open_invitations]}


@router.post("/invitations", status_code=201, summary="Invite a colleague by e-mail (administrators)",
             responses={403: {"description": "the caller is not an administrator", **_PROBLEM},
                        409: {"description": "a member already, or invited already", **_PROBLEM}})
def invite(body: InvitationBody, request: Request, principal: CurrentPrincipal,
           settings: SettingsDep) -> dict[str, Any]:
    """The e-mail carries the link to join (valid for `services.team.INVITATION_TTL`, once); the link's secret is
    never in an answer."""
    return _invitation(team.invite(settings, principal, body.email, body.role.value, str(request.base_url)))


@router.delete("/invitations/{invitation_id}", status_code=204, summary="Withdraw an open invitation",
               responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM})
def withdraw(invitation_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    team.withdraw(settings, principal, invitation_id)
    return Response(status_code=204)


@router.patch("/members/{user_id}", summary="Change a member's role (administrators; one admin stays)",
              responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM})
def set_role(user_id: int, body: RoleBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return _member(team.set_role(settings, principal, user_id, body.role.value))


@router.delete("/members/{user_id}", status_code=204,
               summary="Remove a member from the team (administrators; not yourself): their log-ins and API keys "
               "stop working, their parts and orders stay the organisation's",
               responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM})
def remove_member(user_id: int, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    team.remove_member(settings, principal, user_id)
    return Response(status_code=204)


@router.post("/join", status_code=201, summary="Join an organisation through an invitation's link",
             responses={404: {"description": "the invitation is used, withdrawn or expired", **_PROBLEM},
                        409: {"description": "the e-mail has an account already", **_PROBLEM}})
def join(body: JoinBody, settings: SettingsDep) -> dict[str, Any]:
    view = team.invitation(settings, body.token)
    email = team.accept(settings, body.token, body.name, body.password)
    return {"email": email, "organisation": view.organisation, "role": view.team_role.value,
            "links": {"token": "/api/v1/auth/token"}}
