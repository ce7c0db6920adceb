"""Signed webhooks for order status changes: registration, signing and verification, delivery with retries.

Each delivery POSTs JSON with ``X-Fabgrid-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>`` (receivers check it with `verify`), and is retried by the worker with backoff
`BACKOFF_S` until a 2xx answer. Endpoints that are not public are refused (`address_refusal`: every non-global
IPv4/IPv6 range, carrier-grade NAT, and IPv6 forms embedding such an address), at registration and again at
each delivery, which connects to the address it checked; redirects are never followed. FABGRID_WEBHOOK_ALLOW_PRIVATE=1
lifts the address check (tests, single-machine setups). Depends on httpx and the store.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fabgrid.config import Settings
from fabgrid.domain.records import Webhook, WebhookDelivery
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import designs, jobs
from fabgrid.services._util import iso, new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

SIGNATURE_HEADER = "X-Fabgrid-Signature"
EVENTS = ("order.status", "message.created", "rfq.awarded")
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


#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052 and RFC 8215): the embedded
#: address decides.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_TEREDO = ipaddress.ip_network("2001::/32")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")


def address_refusal(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a webhook must not be sent to `addr` (None: a public unicast address).

    Refused: every address that is not global (private, loopback, link-local, carrier-grade NAT 100.64.0.0/10,
    documentation, benchmarking, reserved, unspecified), multicast, and IPv6 forms that reach such an IPv4
    address: IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002::/16), NAT64 (64:ff9b::/96, 64:ff9b:1::/48); Teredo
    (2001::/32) and site-local (fec0::/10) always."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in _TEREDO:
            return "a Teredo tunnel address (2001::/32)"
        if addr.is_site_local:
            return "an IPv6 site-local address (fec0::/10)"
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and any(addr in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            why = address_refusal(embedded)
            return None if why is None else f"an IPv6 address embedding {embedded}, {why}"
    if addr.is_multicast:
        return "a multicast address"
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if addr.is_unspecified or addr.is_reserved:
        return "a reserved or unspecified address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in ipaddress.IPv4Network("100.64.0.0/10"):
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if addr.is_private or not addr.is_global:
        return "a private or otherwise non-global address"
    return None


def _parse(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or InputError."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"webhook url {url!r} is not an http(s) URL", hint="e.g. https://erp.example.com/hooks",
                         code="webhook.url")
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"webhook url {url!r} has an invalid port", hint="a port is a number from 1 to 65535",
                         code="webhook.url") from None
    if port == 0:
        raise InputError(f"webhook url {url!r} has port 0", hint="a port is a number from 1 to 65535",
                         code="webhook.url")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve_public(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, all of them public; InputError naming the first that is not (a name
    with one private address among public ones is refused: the client may pick any)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise InputError(f"webhook host {host!r} does not resolve", code="webhook.url") from None
    found: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        why = address_refusal(ipaddress.ip_address(text))
        if why is not None:
            raise InputError(f"webhook host {host!r} resolves to {text}, {why}", hint="use a public endpoint",
                             code="webhook.private_address")
        if text not in found:
            found.append(text)
    if not found:
        raise InputError(f"webhook host {host!r} does not resolve", code="webhook.url")
    return found


def check_url(settings: Settings, url: str) -> str:
    """An http(s) URL with a valid port and a host that resolves to public addresses only (unless `settings`
    allow private ones)."""
    _scheme, host, port = _parse(url)
    if not settings.webhook_allow_private:
        resolve_public(host, port)
    return url.strip()


def _pinned(settings: Settings, url: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(URL to connect to, extra headers, httpx extensions) for a delivery to `url`: the host is resolved and
    checked once and the connection made to that address (Host header and TLS server name keep the name), so a
    name that resolves elsewhere between the check and the connection (DNS rebinding) reaches nothing private."""
    scheme, host, port = _parse(url)
    if settings.webhook_allow_private:
        return url.strip(), {}, {}
    addr = resolve_public(host, port)[0]
    parts = urlsplit(url.strip())
    netloc = (f"[{addr}]" if ":" in addr else addr) + f":{port}"
    default = port == (443 if scheme == "https" else 80)
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default else f":{port}")
    extensions: dict[str, Any] = {"sni_hostname": host} if scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), {"Host": host_header}, extensions


@dataclass(frozen=True)
class Registered:
    """A webhook just registered, with its secret (shown this once)."""

    webhook: Webhook
    secret: str


def register(settings: Settings, who: Principal, url: str, secret: str | None = None,
             events: tuple[str, ...] = EVENTS) -> Registered:
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
        hook = uow.webhooks.add(wid, who.organisation_id, url, tuple(events),
                                designs.seal(designs.master_key(settings), secret.encode(), wid.encode()))
        uow.commit()
        return Registered(hook, secret)


def list_webhooks(settings: Settings, who: Principal) -> list[Webhook]:
    """The organisation's webhooks (without secrets)."""
    with UnitOfWork(settings.database_url) as uow:
        return uow.webhooks.find(who.organisation_id)


def delete(settings: Settings, who: Principal, webhook_id: str) -> None:
    """Deactivate a webhook of the organisation."""
    with UnitOfWork(settings.database_url) as uow:
        if uow.webhooks.get(webhook_id, who.organisation_id) is None:
            raise NotFoundError(f"webhook {webhook_id!r} not found", code="webhook.not_found")
        uow.webhooks.deactivate(webhook_id)
        uow.commit()


def deliveries(settings: Settings, who: Principal, webhook_id: str) -> list[WebhookDelivery]:
    """A webhook's deliveries with their attempts."""
    with UnitOfWork(settings.database_url) as uow:
        if uow.webhooks.get(webhook_id, who.organisation_id) is None:
            raise NotFoundError(f"webhook {webhook_id!r} not found", code="webhook.not_found")
        return uow.webhooks.deliveries(webhook_id)


def emit(uow: UnitOfWork, organisation_id: int, event: str, data: dict[str, Any]) -> list[str]:
    """Queue one delivery per active webhook of the organisation (in the caller's transaction).

    Returns the job ids; the caller submits them (`jobs.submit`) after its commit.
    """
    job_ids = []
    for hook in uow.webhooks.active(organisation_id):
        if event not in hook.events:
            continue
        did = new_id("dlv")
        payload = {"id": did, "event": event, "created_at": iso(now()), "data": data}
        uow.webhooks.add_delivery(did, hook.id, event, payload)
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
            uow.webhooks.record_attempt(did, attempts=d.attempts, status="failed", status_code=d.last_status_code,
                                        error="webhook deactivated")
            uow.commit()
            return {"delivery_id": did, "status": "failed"}
        secret = designs.unseal(designs.master_key(settings), uow.webhooks.secret_enc(hook.id),
                                hook.id.encode()).decode()
        url, event, body = hook.url, d.event, json.dumps(d.payload, separators=(",", ":"), sort_keys=True).encode()
        attempt = d.attempts + 1
    code: int | None = None
    error: str | None = None
    try:
        target, pin, extensions = _pinned(settings, url)  # checked again now: the name may resolve elsewhere
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, int(time.time()), body),
                   "User-Agent": "fabgrid-webhooks/1", "X-Fabgrid-Delivery": did, "X-Fabgrid-Event": event} | pin
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:  # a redirect is an answer, not a hop
            resp = client.send(client.build_request("POST", target, content=body, headers=headers,
                                                    extensions=extensions))
        code = resp.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except (httpx.HTTPError, InputError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    with UnitOfWork(settings.database_url) as uow:
        status = "delivered" if error is None else ("failed" if attempt > len(BACKOFF_S) else "pending")
        uow.webhooks.record_attempt(did, attempts=attempt, status=status, status_code=code, error=error,
                                    delivered_at=now() if error is None else None)
        uow.commit()
    if error is None:
        return {"delivery_id": did, "status": "delivered", "attempts": attempt, "status_code": code}
    if attempt > len(BACKOFF_S):
        raise InputError(f"webhook delivery {did} failed after {attempt} attempts: {error}",
                         code="webhook.failed", status=502)
    raise jobs.RetryLater(error, BACKOFF_S[attempt - 1], max_attempts=len(BACKOFF_S) + 1)
