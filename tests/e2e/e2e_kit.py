"""Shared pieces of the browser tests: Debian's Chromium, its flags, the artifacts folder, the server record."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--use-gl=angle", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader"]


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` unless `condition`; under CI=true fail instead (CI has the browser)."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " (CI=true: the browser tests must run)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Server:
    """A running fabgrid server."""

    url: str
    data_dir: Path
    database_url: str


def fill_checkout(page: object, consent: str = "yes") -> None:
    """On the checkout form (after a quote page's "Order"): the address a test needs, the consent choice, review,
    place; the page ends on the order."""
    import re

    p: Any = page
    p.wait_for_url(re.compile(r"/checkout\?"))
    for name, value in (("shipping_recipient", "Li Lei"), ("shipping_phone", "0731-88886666"),
                        ("shipping_city", "Changsha"), ("shipping_street", "Lushan South Road 932")):
        p.fill(f"input[name={name}]", value)
    p.check(f"input[name=consent][value={consent}]")
    p.click("#checkout-review")
    p.wait_for_selector("#review-lines")
    p.click("#checkout-submit")
    p.wait_for_url(re.compile(r"/orders/ord_[0-9a-f]+$"))


def login(page: object, server: Server, email: str, password: str) -> None:
    """Log in through the login form; the page ends where the form sends it."""
    p: Any = page
    p.goto(server.url + "/login")
    p.fill("input[name=email]", email)
    p.fill("input[name=password]", password)
    p.click("form[action='/login'] button[type=submit]")
    p.wait_for_load_state()
