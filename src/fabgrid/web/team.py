"""A buyer organisation's own pages: the team (members with their roles, invitations by e-mail, joining through
an invitation's link) and the design access log (who accessed which design when).

Calls services.team, services.designs and services.network (site names) only; never the store directly.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fabgrid.domain.team import TeamRole
from fabgrid.errors import InputError
from fabgrid.services import access, accounts, designs, network, team
from fabgrid.services.access import SESSION_COOKIE
from fabgrid.services.accounts import Principal
from fabgrid.web.session import (
    PageRoute,
    checked_form,
    field,
    form_problem,
    principal,
    render,
    require,
    set_csrf_cookie,
    settings_of,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)
BUYER = ("buyer",)


@router.get("/designs/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> HTMLResponse:
    """The organisation's design access log, newest first: one design (`part`), the refused attempts only
    (`refused=1`)."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    part_id = request.query_params.get("part", "").strip() or None
    refused = request.query_params.get("refused") == "1"
    view = designs.organisation_audit(settings, who, part_id, refused)
    return render(request, "audit.html", {"entries": view.entries, "filenames": view.filenames, "part_id": part_id,
                                          "refused_only": refused, "sites": network.site_names(settings)}, who=who)


def _team_page(request: Request, who: Principal, *, sent: str | None = None, error: InputError | None = None,
               email: str = "") -> HTMLResponse:
    view = team.team(settings_of(request), who)
    message, hint = form_problem(request, error) if error else (None, None)
    return render(request, "team.html", {"team": view, "admin": team.is_admin(who),
                                         "roles": [r.value for r in TeamRole], "sent": sent, "error": message,
                                         "hint": hint, "email": email, "ttl_days": team.INVITATION_TTL.days},
                  status_code=(error.status if error else 200), who=who)


@router.get("/team", response_class=HTMLResponse)
def team_page(request: Request) -> HTMLResponse:
    """The organisation's members and roles, open invitations, and (administrators) the invitation form."""
    who = require(request, *BUYER)
    return _team_page(request, who, sent=request.query_params.get("sent") or None)


@router.post("/team/invite", response_class=HTMLResponse)
async def team_invite(request: Request) -> Response:
    """An administrator invites a colleague by e-mail (403 page for other members)."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    email = field(form, "email")
    try:
        inv = team.invite(settings_of(request), who, email, field(form, "role", "buyer"), str(request.base_url))
    except InputError as exc:
        if exc.status == 403:
            raise
        return _team_page(request, who, error=exc, email=email)
    return RedirectResponse(f"/team?{urlencode({'sent': inv.email})}", status_code=303)


@router.post("/team/invitations/{invitation_id}/withdraw")
async def team_withdraw(request: Request, invitation_id: str) -> Response:
    """Withdraw an open invitation."""
    who = require(request, *BUYER)
    await checked_form(request)
    team.withdraw(settings_of(request), who, invitation_id)
    return RedirectResponse("/team", status_code=303)


@router.post("/team/members/{user_id}/role")
async def team_role(request: Request, user_id: int) -> Response:
    """Change a member's role."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    team.set_role(settings_of(request), who, user_id, field(form, "role"))
    return RedirectResponse("/team", status_code=303)


@router.post("/team/members/{user_id}/remove")
async def team_remove(request: Request, user_id: int) -> Response:
    """An administrator removes a member from the team."""
    who = require(request, *BUYER)
    await checked_form(request)
    team.remove_member(settings_of(request), who, user_id)
    return RedirectResponse("/team", status_code=303)


@router.get("/team/join/{token}", response_class=HTMLResponse)
def join_page(request: Request, token: str) -> HTMLResponse:
    """The invitee's page: who invited them to which organisation, their name and password (404 page when the
    invitation is used, withdrawn or expired)."""
    view = team.invitation(settings_of(request), token)
    return render(request, "team_join.html", {"invitation": view, "token": token}, who=principal(request))


@router.post("/team/join/{token}", response_class=HTMLResponse)
async def join(request: Request, token: str) -> Response:
    """Make the invitee's account in the organisation and log them in (to the parts page)."""
    form = await checked_form(request)
    settings = settings_of(request)
    view = team.invitation(settings, token)
    name, password = field(form, "name"), str(form.get("password") or "")
    try:
        email = team.accept(settings, token, name, password)
    except InputError as exc:
        if exc.status == 404:
            raise
        message, hint = form_problem(request, exc)
        return render(request, "team_join.html", {"invitation": view, "token": token, "error": message,
                                                  "hint": hint, "name": name},
                      status_code=exc.status if 400 <= exc.status < 500 else 422, who=principal(request))
    issued = accounts.login(settings.database_url, email, password, request.client.host if request.client else None)
    resp = RedirectResponse("/parts", status_code=303)
    resp.set_cookie(SESSION_COOKIE, issued.token, max_age=int(accounts.SESSION_TTL.total_seconds()), httponly=True,
                    samesite="lax", path="/", secure=request.url.scheme == "https")
    set_csrf_cookie(request, resp, access.new_csrf_token())
    return resp
