"""Webhooks: POST/GET /api/v1/webhooks, DELETE /api/v1/webhooks/{id}, GET /api/v1/webhooks/{id}/deliveries.

Deliveries carry ``X-Fabgrid-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from fabgrid.api import resources
from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.config import Settings
from fabgrid.services import webhooks

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class WebhookBody(BaseModel):
    """An endpoint for order status changes."""

    url: str = Field(max_length=2000, examples=["https://erp.example.com/fabgrid"])
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="HMAC key; omitted: one is generated and shown once")
    events: list[str] = Field(default_factory=lambda: list(webhooks.EVENTS))


@router.post("", status_code=201, summary="Register a webhook (the secret is shown once)")
def register(body: WebhookBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    reg = webhooks.register(settings, principal, body.url, body.secret, tuple(body.events))
    return resources.webhook_doc(reg.webhook) | {"secret": reg.secret}


@router.get("", summary="The organisation's webhooks")
def list_webhooks(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [resources.webhook_doc(w) for w in webhooks.list_webhooks(settings, principal)]


@router.delete("/{webhook_id}", status_code=204, summary="Deactivate a webhook")
def delete(webhook_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> None:
    webhooks.delete(settings, principal, webhook_id)


@router.get("/{webhook_id}/deliveries", summary="Deliveries of a webhook with their attempts")
def deliveries(webhook_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [resources.delivery_doc(d) for d in webhooks.deliveries(settings, principal, webhook_id)]
