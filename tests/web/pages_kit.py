"""Helpers of the page tests: a browser-like client per user, CSRF tokens read from the pages, accounts."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import trimesh
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fabgrid.config import Settings
from fabgrid.services import accounts

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    m = _CSRF.search(html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def box_stl(x: float = 20.0, y: float = 30.0, z: float = 10.0) -> bytes:
    """A closed box as binary STL."""
    data: bytes = trimesh.creation.box((x, y, z)).export(file_type="stl")
    return data


@dataclass
class Site:
    """The app under test with helpers that act like browsers."""

    app: FastAPI
    settings: Settings
    first: TestClient
    _n: list[int] = field(default_factory=lambda: [0])

    def browser(self, lang: str = "en") -> TestClient:
        """A new cookie jar (a browser) on the same app; `follow_redirects` off to see the 303s."""
        c = TestClient(self.app, follow_redirects=False, headers={"Accept-Language": lang})
        return c

    def next_n(self) -> int:
        self._n[0] += 1
        return self._n[0]

    def signup_buyer(self, b: TestClient) -> str:
        """Sign up through the form; returns the email."""
        n = self.next_n()
        email = f"page-buyer{n}@example.com"
        token = csrf_of(b.get("/signup").text)
        r = b.post("/signup", data={"csrf_token": token, "name": f"Buyer {n}", "organisation": f"Page Org {n}",
                                    "email": email, "password": PASSWORD})
        assert r.status_code == 303, r.text
        return email

    def account(self, role: str, site_id: str | None = None) -> str:
        """A factory or operator account made by the administrators; returns the email."""
        n = self.next_n()
        email = f"page-{role}{n}@park.example.com"
        accounts.signup(self.settings.database_url, email=email, password=PASSWORD, name=f"{role} {n}",
                        organisation=f"page {role} {n} {site_id or ''}".strip(), role=role, site_id=site_id)
        return email

    def login(self, b: TestClient, email: str) -> None:
        """Log in through the form."""
        token = csrf_of(b.get("/login").text)
        r = b.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
        assert r.status_code == 303, r.text

    def upload(self, b: TestClient, data: bytes | None = None, name: str = "box.stl") -> dict[str, Any]:
        """Upload as the page's script does: XHR with the session cookie and the X-CSRF-Token header."""
        token = csrf_of(b.get("/parts").text)
        r = b.post("/api/v1/parts", files={"file": (name, data or box_stl())}, headers={"X-CSRF-Token": token})
        assert r.status_code in (201, 202), r.text
        body: dict[str, Any] = r.json()
        return body

    def ordered(self, b: TestClient, consent: bool = True) -> tuple[str, str]:
        """Upload, quote and order through the pages; returns (order id, site id)."""
        fields, site_id = self.checkout_form(b, consent)
        r = b.post("/checkout/place", data=fields)
        assert r.status_code == 303, r.text
        return r.headers["location"].rsplit("/", 1)[1], site_id

    def checkout_form(self, b: TestClient, consent: bool = True) -> tuple[dict[str, str], str]:
        """Upload, quote and choose the first offer through the pages, up to the checkout's form: (the fields the
        form posts to /checkout/place, the offer's site)."""
        part = self.upload(b)
        pid = part["id"]
        deadline = time.monotonic() + 60
        while b.get(f"/api/v1/parts/{pid}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        page = b.get(f"/parts/{pid}")
        r = b.post(f"/parts/{pid}/quote", data={"csrf_token": csrf_of(page.text), "process": "fdm",
                                                 "material": "fdm_pla", "quantity": "2"})
        assert r.status_code == 303, r.text
        qpage = b.get(r.headers["location"])
        site_id = re.search(r'<article class="offer" data-site="([^"]+)"', qpage.text)
        assert site_id, qpage.text[:2000]
        data = {"csrf_token": csrf_of(qpage.text), "site": site_id.group(1), f"tier_{site_id.group(1)}": "standard"}
        r = b.post(r.headers["location"] + "/order", data=data)
        assert r.status_code == 303 and r.headers["location"].startswith("/checkout?"), r.text
        form = b.get(r.headers["location"])  # the one offer goes through the checkout like the cart
        assert form.status_code == 200, form.text
        fields = {"csrf_token": csrf_of(form.text), "shipping_recipient": "Li Lei", "shipping_phone": "0731-88886666",
                  "shipping_city": "Changsha", "shipping_street": "Lushan Road 932", "consent": "yes" if consent else
                  "later"}
        fields |= dict(re.findall(r'<input type="hidden" name="(quote_id|site|tier)" value="([^"]*)"', form.text))
        return fields, site_id.group(1)
