"""Signed webhooks for order status changes: registration, signing and verification, delivery with retries.

Each delivery POSTs JSON with ``X-Fabgrid-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>`` (receivers check it with `verify`), and is retried by the worker with backoff
`BACKOFF_S` until a 2xx answer. Endpoints on private or loopback addresses are refused unless
FABGRID_WEBHOOK_ALLOW_PRIVATE=1 (tests, single-machine setups). Depends on httpx and the store.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from fabgrid.config import Settings
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import designs, jobs
from fabgrid.services._util import iso, new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.tables import WebhookDeliveryRow, WebhookRow
from fabgrid.store.uow import UnitOfWork

SIGNATURE_HEADER = "X-Fabgrid-Signature"
EVENTS = ("order.status",)
#: Seconds before each retry; after the last one the delivery is failed.
BACKOFF_S: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0, 1800.0)
TIMEOUT_S = 5.0
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance_s: int = TOLERANCE_S, at: float | None = None) -> bool:
    """True when `header` is a valid signature of `body` by `secret`, made within `tolerance_s`."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((at if at is not None else time.time()) - t) > tolerance_s:
        return False
    expected = sign(secret, t, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def check_url(settings: Settings, url: str) -> str:
    """An http(s) URL with a host that resolves to public addresses (unless `settings` allow private ones)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"webhook url {url!r} is not an http(s) URL", hint="e.g. https://erp.example.com/hooks",
                         code="webhook.url")
    if settings.webhook_allow_private:
        return url.strip()
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        raise InputError(f"webhook host {parts.hostname!r} does not resolve", code="webhook.url") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_multicast:
            raise InputError(f"webhook host {parts.hostname!r} resolves to a non-public address ({addr})",
                             hint="use a public endpoint", code="webhook.private_address")
    return url.strip()


def _json(row: WebhookRow) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "events": row.events.split(","), "active": row.active,
            "created_at": iso(row.created_at)}


def register(settings: Settings, who: Principal, url: str, secret: str | None = None,
             events: tuple[str, ...] = EVENTS) -> dict[str, Any]:
    """Register an endpoint for the organisation; the secret (given or generated) is shown once."""
    url = check_url(settings, url)
    bad = [e for e in events if e not in EVENTS]
    if bad or not events:
        raise InputError(f"unknown webhook events {bad}", hint=f"one of {', '.join(EVENTS)}", code="webhook.events")
    secret = secret if secret is not None else "whsec_" + secrets.token_urlsafe(24)
    if len(secret) < 16:
        raise InputError("the webhook secret must be at least 16 characters", code="webhook.secret")
    wid = new_id("whk")
    with UnitOfWork(settings.database_url) as uow:
        row = WebhookRow(id=wid, organisation_id=who.organisation_id, url=url, events=",".join(events), active=True,
                         secret_enc=designs.seal(designs.master_key(settings), secret.encode(), wid.encode()))
        uow.session.add(row)
        uow.commit()
        return _json(row) | {"secret": secret}


def list_webhooks(settings: Settings, who: Principal) -> list[dict[str, Any]]:
    """The organisation's webhooks (without secrets)."""
    with UnitOfWork(settings.database_url) as uow:
        return [_json(r) for r in uow.webhooks.find(who.organisation_id)]


def delete(settings: Settings, who: Principal, webhook_id: str) -> None:
    """Deactivate a webhook of the organisation."""
    with UnitOfWork(settings.database_url) as uow:
        row = uow.webhooks.get(webhook_id, who.organisation_id)
        if row is None:
            raise NotFoundError(f"webhook {webhook_id!r} not found", code="webhook.not_found")
        row.active = False
        uow.commit()


def deliveries(settings: Settings, who: Principal, webhook_id: str) -> list[dict[str, Any]]:
    """A webhook's deliveries with their attempts."""
    with UnitOfWork(settings.database_url) as uow:
        if uow.webhooks.get(webhook_id, who.organisation_id) is None:
            raise NotFoundError(f"webhook {webhook_id!r} not found", code="webhook.not_found")
        return [{"id": d.id, "event": d.event, "status": d.status, "attempts": d.attempts,
                 "last_status_code": d.last_status_code, "last_error": d.last_error,
                 "created_at": iso(d.created_at), "delivered_at": iso(d.delivered_at), "payload": d.payload}
                for d in uow.webhooks.deliveries(webhook_id)]


def emit(uow: UnitOfWork, organisation_id: int, event: str, data: dict[str, Any]) -> list[str]:
    """Queue one delivery per active webhook of the organisation (in the caller's transaction).

    Returns the job ids; the caller submits them (`jobs.submit`) after its commit.
    """
    job_ids = []
    for hook in uow.webhooks.active(organisation_id):
        if event not in hook.events.split(","):
            continue
        did = new_id("dlv")
        payload = {"id": did, "event": event, "created_at": iso(now()), "data": data}
        uow.session.add(WebhookDeliveryRow(id=did, webhook_id=hook.id, event=event, payload=payload,
                                           status="pending", attempts=0))
        uow.session.flush()
        job = jobs.enqueue(uow, "webhook_delivery", {"delivery_id": did}, organisation_id=organisation_id,
                           user_id=None)
        job_ids.append(job.id)
    return job_ids


@jobs.register("webhook_delivery")
def _deliver(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    import httpx

    did = str(params["delivery_id"])
    with UnitOfWork(settings.database_url) as uow:
        d = uow.webhooks.delivery(did)
        hook = uow.webhooks.get(d.webhook_id, None) if d is not None else None
        if d is None or hook is None:
            raise InputError(f"webhook delivery {did} vanished", code="webhook.delivery_missing", status=404)
        if d.status != "pending":
            return {"delivery_id": did, "status": d.status}
        if not hook.active:
            d.status = "failed"
            d.last_error = "webhook deactivated"
            uow.commit()
            return {"delivery_id": did, "status": "failed"}
        secret = designs.unseal(designs.master_key(settings), hook.secret_enc, hook.id.encode()).decode()
        url, event, body = hook.url, d.event, json.dumps(d.payload, separators=(",", ":"), sort_keys=True).encode()
        attempt = d.attempts + 1
    code: int | None = None
    error: str | None = None
    try:
        check_url(settings, url)  # again at delivery time: the name may resolve elsewhere now
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, int(time.time()), body),
                   "User-Agent": "fabgrid-webhooks/1", "X-Fabgrid-Delivery": did, "X-Fabgrid-Event": event}
        resp = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT_S, follow_redirects=False)
        code = resp.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except (httpx.HTTPError, InputError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    with UnitOfWork(settings.database_url) as uow:
        d = uow.webhooks.delivery(did)
        assert d is not None
        d.attempts, d.last_status_code, d.last_error = attempt, code, error
        if error is None:
            d.status, d.delivered_at = "delivered", now()
        elif attempt > len(BACKOFF_S):
            d.status = "failed"
        uow.commit()
    if error is None:
        return {"delivery_id": did, "status": "delivered", "attempts": attempt, "status_code": code}
    if attempt > len(BACKOFF_S):
        raise InputError(f"webhook delivery {did} failed after {attempt} attempts: {error}",
                         code="webhook.failed", status=502)
    raise jobs.RetryLater(error, BACKOFF_S[attempt - 1], max_attempts=len(BACKOFF_S) + 1)
