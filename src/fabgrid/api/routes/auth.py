"""Accounts: POST /api/v1/auth/signup, /auth/token (OAuth2 password flow), /auth/logout, API keys, /me."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal, oauth2
from fabgrid.api.deps import get_settings
from fabgrid.config import Settings
from fabgrid.services import accounts

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class SignupRequest(BaseModel):
    """A buyer's (or a new factory organisation's) sign-up."""

    email: str = Field(max_length=254, examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(min_length=1, max_length=200, examples=["Xiangjiang Robotics"])
    role: Literal["buyer", "factory"] = Field(
        default="buyer", description="factory: a new factory organisation without a site, which then applies to "
                                     "join (POST /api/v1/factories/applications)")


class ApiKeyRequest(BaseModel):
    """A name for a new API key."""

    name: str = Field(min_length=1, max_length=120)


def _principal_json(p: accounts.Principal) -> dict[str, Any]:
    return {"id": p.user_id, "email": p.email, "name": p.name, "role": p.role, "team_role": p.team_role,
            "organisation": {"id": p.organisation_id, "name": p.organisation, "site_id": p.site_id}}


@router.post("/signup", status_code=201, summary="Create a buyer (or factory) account and its organisation",
             description="Answers the same whether or not the e-mail has an account (an existing account is left "
                         "as it is): log in afterwards with POST /api/v1/auth/token.")
def signup(body: SignupRequest, settings: SettingsDep) -> dict[str, Any]:
    r = accounts.public_signup(settings.database_url, email=body.email, password=body.password, name=body.name,
                               organisation=body.organisation, role=body.role)
    return {"email": r.email, "name": r.name, "role": r.role,
            "organisation": {"name": r.organisation, "site_id": r.site_id},
            "detail": "if this e-mail had no account, it has one now: log in with it",
            "links": {"token": "/api/v1/auth/token"}}


@router.post("/token", summary="Log in (OAuth2 password flow); returns a bearer token",
             responses={429: {"description": "too many failed log-ins for the account or from the address "
                                              "(Retry-After says when to try again)"}})
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()],
          settings: SettingsDep) -> dict[str, Any]:
    address = request.client.host if request.client else None
    issued = accounts.login(settings.database_url, form.username, form.password, address)
    ttl = int(accounts.SESSION_TTL.total_seconds())
    return {"access_token": issued.token, "token_type": "bearer", "expires_in": ttl}


@router.post("/logout", status_code=204, summary="Revoke the bearer token used for this call")
def logout(request: Request, settings: SettingsDep, _: CurrentPrincipal,
           bearer: Annotated[str | None, Depends(oauth2)]) -> None:
    tok = bearer or request.cookies.get("fabgrid_session")
    if tok:
        accounts.revoke(settings.database_url, tok)


@router.get("/me", summary="The caller's account")
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return _principal_json(principal)


@router.post("/api-keys", status_code=201, summary="Create an API key (shown once)")
def create_api_key(body: ApiKeyRequest, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    issued = accounts.create_api_key(settings.database_url, principal, body.name)
    return {"api_key": issued.token, "prefix": issued.prefix, "name": body.name}
