"""Issue 16, item 10: the webhook SSRF list. Every non-public IPv4 and IPv6 range is refused at registration
(422 webhook.private_address), including carrier-grade NAT, 6to4/NAT64/IPv4-mapped forms of private addresses,
Teredo, and names that resolve to such addresses; a bad port is a 422, not a 500; deliveries connect to the
address they checked and never follow a redirect."""

from __future__ import annotations

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from web_kit import Platform, allow_private_webhooks

from fabgrid.errors import InputError
from fabgrid.services import webhooks

REFUSED = [
    # IPv4 special-purpose ranges (RFC 6890 and friends)
    "0.0.0.0", "10.0.0.1", "100.64.0.1", "100.100.100.200", "100.127.255.254", "127.0.0.1", "127.1.2.3",
    "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.1", "192.0.2.1", "192.168.1.1", "198.18.0.1",
    "198.51.100.1", "203.0.113.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    # IPv6
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "2001:db8::1", "100::1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:100.100.100.200",  # IPv4-mapped
    "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2002:a00:1::1", "2002:6464:64c8::1",  # 6to4 of private v4
    "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::1",  # Teredo
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1",  # NAT64 of private v4
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"]


def _url(addr: str, port: int | None = None) -> str:
    host = f"[{addr}]" if ":" in addr else addr
    return f"https://{host}{'' if port is None else f':{port}'}/hook"


@pytest.mark.parametrize("addr", REFUSED)
def test_non_public_addresses_are_refused(addr: str) -> None:
    assert webhooks.address_refusal(ipaddress.ip_address(addr)) is not None


@pytest.mark.parametrize("addr", ALLOWED)
def test_public_addresses_pass(addr: str) -> None:
    assert webhooks.address_refusal(ipaddress.ip_address(addr)) is None


def test_registration_refuses_the_whole_list_and_bad_ports(platform: Platform) -> None:
    assert not platform.settings.webhook_allow_private
    h = platform.buyer()
    refused = {}
    for addr in [*REFUSED, "2130706433", "0x7f.0.0.1", "127.1"]:  # the last three: other spellings of 127.0.0.1
        r = platform.client.post("/api/v1/webhooks", json={"url": _url(addr)}, headers=h)
        refused[addr] = (r.status_code, r.json().get("title"))
    assert all(v == (422, "webhook.private_address") for v in refused.values()), refused
    for name in ("localhost", "localhost.", "ip6-localhost"):  # DNS names resolving to loopback
        r = platform.client.post("/api/v1/webhooks", json={"url": f"http://{name}:8080/x"}, headers=h)
        assert r.status_code == 422 and r.json()["title"] in ("webhook.private_address", "webhook.url"), r.text
    for bad in ("https://8.8.8.8:99999/x", "https://8.8.8.8:0/x", "https://8.8.8.8:-1/x", "https://8.8.8.8:ab/x"):
        r = platform.client.post("/api/v1/webhooks", json={"url": bad}, headers=h)
        assert r.status_code == 422 and r.json()["title"] == "webhook.url", (bad, r.text)
    r = platform.client.post("/api/v1/webhooks", json={"url": _url("8.8.8.8", 8443)}, headers=h)
    assert r.status_code == 201, r.text  # a public address (not contacted at registration)


def test_delivery_connects_to_the_checked_address(platform: Platform) -> None:
    settings = platform.settings
    target, headers, ext = webhooks._pinned(settings, "https://[2606:4700:4700::1111]:8443/h?x=1")
    assert target == "https://[2606:4700:4700::1111]:8443/h?x=1"
    assert headers == {"Host": "[2606:4700:4700::1111]:8443"} and ext == {"sni_hostname": "2606:4700:4700::1111"}
    with pytest.raises(InputError, match="resolves to"):
        webhooks._pinned(settings, "http://localhost/h")


def test_redirects_are_not_followed(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint answering 302 to a metadata-like address: the delivery records the 302 and the target of
    the redirect is never contacted."""
    allow_private_webhooks(platform, monkeypatch)
    monkeypatch.setattr(webhooks, "BACKOFF_S", (0.1,))
    hits: list[str] = []

    class Target(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    target = ThreadingHTTPServer(("127.0.0.1", 0), Target)

    class Redirector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{target.server_address[1]}/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    redirector = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    for srv in (target, redirector):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        h = platform.buyer()
        url = f"http://127.0.0.1:{redirector.server_address[1]}/hook"
        hook = platform.client.post("/api/v1/webhooks", json={"url": url}, headers=h).json()
        from fabgrid.services import jobs
        from fabgrid.store.uow import UnitOfWork

        me = platform.client.get("/api/v1/auth/me", headers=h).json()
        with UnitOfWork(platform.settings.database_url) as uow:
            ids = webhooks.emit(uow, me["organisation"]["id"], "order.status", {"order_id": "ord_x"})
            uow.commit()
        jobs.submit(platform.settings, ids[0])
        done = platform.wait_job(h, ids[0])
        assert done["status"] == "failed"
        dl = platform.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=h).json()
        assert dl[0]["last_status_code"] == 302 and hits == []
    finally:
        target.shutdown()
        redirector.shutdown()
