"""Signed webhooks: registration, HMAC-SHA256 signatures checked by a local HTTP receiver on 127.0.0.1,
retries with backoff after a failing answer, refused private endpoints, and signature verification."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from web_kit import Platform, allow_private_webhooks

from fabgrid.services import webhooks

SECRET = "whsec_test_0123456789abcdef"


class Receiver:
    """A local HTTP endpoint that records what it receives and fails the first `fail_first` calls."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = 500 if len(receiver.calls) < receiver.fail_first else 200
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body, code))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.calls) < n:
            assert time.monotonic() < deadline, f"{len(self.calls)} of {n} deliveries arrived"
            time.sleep(0.05)


@pytest.fixture
def receiver(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    allow_private_webhooks(platform, monkeypatch)
    monkeypatch.setattr(webhooks, "BACKOFF_S", (0.2, 0.2, 0.2))
    r = Receiver(fail_first=1)
    yield r
    r.server.shutdown()


def test_order_status_changes_are_delivered_signed(platform: Platform, receiver: Receiver) -> None:
    h = platform.buyer()
    hook = platform.client.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=h)
    assert hook.status_code == 201 and hook.json()["secret"] == SECRET
    part = platform.upload(h)
    q = platform.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 1},
                             headers=h).json()
    order = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": q["offers"][0]["site"]},
                                 headers=h).json()
    receiver.wait(3)  # placed + allocated, one of them retried after the first 500
    ok = [(hdr, body) for hdr, body, code in receiver.calls if code == 200]
    statuses = sorted(json.loads(body)["data"]["status"] for _, body in ok)
    assert statuses == ["allocated", "placed"]
    for hdr, body in ok:
        sig = hdr["x-fabgrid-signature"]
        t = sig.split(",")[0].removeprefix("t=")
        mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        assert sig == f"t={t},v1={mac}"  # the documented scheme, recomputed independently
        assert webhooks.verify(SECRET, sig, body)
        assert not webhooks.verify("another secret 0123", sig, body)
        assert not webhooks.verify(SECRET, sig, body + b" ")
        assert json.loads(body)["data"]["order_id"] == order["id"]
    deadline = time.monotonic() + 10
    while True:
        dl = platform.client.get(f"/api/v1/webhooks/{hook.json()['id']}/deliveries", headers=h).json()
        if all(d["status"] == "delivered" for d in dl) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(dl) == 2 and all(d["status"] == "delivered" for d in dl)
    assert sorted(d["attempts"] for d in dl) == [1, 2] and any(d["last_error"] is None for d in dl)


def test_verify_rejects_stale_and_malformed() -> None:
    body = b'{"x":1}'
    sig = webhooks.sign(SECRET, 1_000_000, body)
    assert webhooks.verify(SECRET, sig, body, at=1_000_100)
    assert not webhooks.verify(SECRET, sig, body, at=1_000_000 + webhooks.TOLERANCE_S + 1)
    assert not webhooks.verify(SECRET, "v1=abc", body) and not webhooks.verify(SECRET, "garbage", body)


def test_registration_checks(platform: Platform) -> None:
    assert not platform.settings.webhook_allow_private  # the default: private endpoints refused
    h = platform.buyer()
    r = platform.client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:8080/x"}, headers=h)
    assert r.status_code == 422 and r.json()["title"] == "webhook.private_address"
    r = platform.client.post("/api/v1/webhooks", json={"url": "ftp://example.com/x"}, headers=h)
    assert r.status_code == 422 and r.json()["title"] == "webhook.url"
    r = platform.client.post("/api/v1/webhooks", json={"url": "https://example.com/x", "events": ["part.eaten"]},
                             headers=h)
    assert r.status_code == 422
    r = platform.client.post("/api/v1/webhooks", json={"url": "https://example.com/x", "secret": "short"},
                             headers=h)
    assert r.status_code == 422


def test_failing_endpoint_gives_up_after_the_backoff(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    allow_private_webhooks(platform, monkeypatch)
    monkeypatch.setattr(webhooks, "BACKOFF_S", (0.1, 0.1))
    rec = Receiver(fail_first=100)
    try:
        h = platform.buyer()
        hook = platform.client.post("/api/v1/webhooks", json={"url": rec.url}, headers=h).json()
        assert hook["secret"].startswith("whsec_")
        from fabgrid.services import jobs
        from fabgrid.store.uow import UnitOfWork

        with UnitOfWork(platform.settings.database_url) as uow:
            ids = webhooks.emit(uow, _org_of(platform, h), "order.status", {"order_id": "ord_x", "status": "placed"})
            uow.commit()
        assert len(ids) == 1
        jobs.submit(platform.settings, ids[0])
        done = platform.wait_job(h, ids[0])
        assert done["status"] == "failed" and done["attempts"] == 3 and len(rec.calls) == 3
        dl = platform.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=h).json()
        assert dl[0]["status"] == "failed" and dl[0]["last_status_code"] == 500
    finally:
        rec.server.shutdown()


def _org_of(platform: Platform, h: dict[str, str]) -> int:
    org_id: int = platform.client.get("/api/v1/auth/me", headers=h).json()["organisation"]["id"]
    return org_id
