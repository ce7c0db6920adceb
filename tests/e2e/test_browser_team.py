"""The part list and team accounts in headless Chromium against a real `fabgrid serve` whose e-mail goes to a real
SMTP server (aiosmtpd), in zh-CN and en (issue 17, items 5 and 7): three files chosen at once are uploaded and
listed, two are ticked with their quantities, quoted at once and put in the cart together; a two-body 3MF is split
on its page into one part per body; the organisation's
administrator invites a colleague from the team page, the colleague opens the e-mailed link, joins, sees the
team without the invitation form, and the design access log page lists the owner's 3D views. Screenshots go to
test-artifacts/e2e/team-<lang>-*.png."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import trimesh
from aiosmtpd.controller import Controller
from e2e_kit import ARTIFACTS, Server

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


class _Mailbox:
    def __init__(self) -> None:
        self.bodies: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        body = message_from_bytes(envelope.content, policy=default).get_body()
        self.bodies.append((list(envelope.rcpt_tos), body.get_content() if body is not None else ""))
        return "250 OK"

    def link_to(self, to: str, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for rcpt, body in self.bodies:
                m = re.search(r"https?://\S+/team/join/fgi_[A-Za-z0-9_\-]+", body)
                if to in rcpt and m:
                    return m.group(0)
            time.sleep(0.1)
        raise AssertionError(f"no invitation e-mail to {to}: {self.bodies}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mailbox() -> Iterator[_Mailbox]:
    box = _Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    box.port = ctl.port  # type: ignore[attr-defined]
    yield box
    ctl.stop()


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory, mailbox: _Mailbox) -> Iterator[Server]:
    """A `fabgrid serve` of its own that sends e-mail to the test's SMTP server."""
    data = tmp_path_factory.mktemp("e2e-team")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABGRID_")}
    env |= {"FABGRID_DATA_DIR": str(data), "FABGRID_SMTP_URL": f"smtp://127.0.0.1:{mailbox.port}"}  # type: ignore
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "fabgrid.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fabgrid serve did not start:\n" + (data / "server.log").read_text()[-3000:])
            time.sleep(0.3)
        yield Server(url, data, f"sqlite:///{data / 'fabgrid.db'}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _shot(page: Any, lang: str, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"team-{lang}-{name}.png"), full_page=True)


def _files(tmp: Path) -> list[str]:
    out = []
    for name, dims in (("bracket.stl", (40.0, 20.0, 8.0)), ("cover.stl", (30.0, 30.0, 4.0)),
                       ("spacer.stl", (12.0, 12.0, 12.0))):
        p = tmp / name
        p.write_bytes(trimesh.creation.box(dims).export(file_type="stl"))
        out.append(str(p))
    return out


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_part_list_and_team_invite(browser: Any, mail_server: Server, mailbox: _Mailbox, tmp_path: Path,
                                   lang: str) -> None:
    url = mail_server.url
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale=lang)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/signup")
    page.fill("input[name=name]", "Zhao Lei")
    page.fill("input[name=organisation]", f"Team Robotics {lang}")
    page.fill("input[name=email]", f"zhao.{lang.lower()}@team.example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_url(re.compile(r"/parts$"))

    # 1: three files at once -> the part list, two ticked with quantities -> quoted together -> the cart
    page.set_input_files("#file-input", _files(tmp_path))
    page.locator("#parts input[name=pick]").nth(2).wait_for()  # all three uploaded, analysed and listed
    _shot(page, lang, "1-part-list")
    rows = {page.locator(f"#parts tr[data-part] >> nth={i}").inner_text().split()[0]:
            page.locator(f"#parts tr[data-part] >> nth={i}").get_attribute("data-part") for i in range(3)}
    for name, qty in (("bracket.stl", "12"), ("spacer.stl", "40")):
        pid = rows[name]
        page.check(f"#parts tr[data-part={pid}] input[name=pick]")
        page.fill(f"input[name=qty_{pid}]", qty)
    page.select_option("#pl-process", "fdm")
    page.select_option("#pl-material", "fdm_pla")
    page.click("#partlist-submit")
    page.wait_for_selector("#partlist")
    assert page.locator("#partlist tr[data-quoted=yes]").count() == 2
    _shot(page, lang, "2-part-list-quotes")
    page.click("#partlist-add")
    page.wait_for_url(re.compile(r"/cart$"))
    cart = page.inner_text("#cart")
    assert "bracket.stl" in cart and "spacer.stl" in cart and "cover.stl" not in cart
    _shot(page, lang, "3-cart")

    # 1b: a two-body 3MF split on its page into one part per body
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box((10.0, 10.0, 10.0)), geom_name="cube")
    pin = trimesh.creation.cylinder(5.0, 20.0)
    pin.apply_translation((30.0, 0.0, 0.0))
    scene.add_geometry(pin, geom_name="pin")
    (tmp_path / "pair.3mf").write_bytes(scene.export(file_type="3mf"))
    page.goto(url + "/parts")
    page.set_input_files("#file-input", str(tmp_path / "pair.3mf"))
    page.wait_for_url(re.compile(r"/parts/prt_[0-9a-f]+$"))
    page.wait_for_selector("#split-form")
    _shot(page, lang, "3b-split-offer")
    page.click("#split-submit")
    page.wait_for_url(re.compile(r"/parts$"))
    listing = page.inner_text("#parts")
    assert "pair-1-cube.stl" in listing and "pair-2-pin.stl" in listing

    # 2: the administrator invites a colleague; the e-mail's link -> join -> the colleague is a buyer member
    page.goto(url + "/team")
    colleague = f"wang.{lang.lower()}@team.example.com"
    page.fill("#invite-email", colleague)
    page.select_option("#invite-role", "buyer")
    page.click("#invite-submit")
    page.wait_for_selector("#team-sent")
    assert colleague in page.inner_text("#invitations")
    _shot(page, lang, "4-team-invited")
    link = mailbox.link_to(colleague)
    assert link.startswith(url + "/team/join/")
    other = browser.new_context(viewport={"width": 1280, "height": 900}, locale=lang)
    them = other.new_page()
    them.set_default_timeout(60_000)
    them.goto(link)
    assert colleague in them.inner_text("#join-intro")
    _shot(them, lang, "5-join")
    them.fill("#join-form input[name=name]", "Wang Fang")
    them.fill("#join-form input[name=password]", PASSWORD)
    them.click("#join-submit")
    them.wait_for_url(re.compile(r"/parts$"))
    them.goto(url + "/team")
    assert them.locator("#team-not-admin").count() == 1 and them.locator("#invite-form").count() == 0
    assert them.locator(f"#members tr[data-email='{colleague}']").get_attribute("data-role") == "buyer"
    _shot(them, lang, "6-team-member")
    them.goto(url + "/orders")  # the organisation's orders are the member's too
    assert them.locator("h1").count() == 1

    # 3: the design access log page for the owner
    page.goto(url + f"/parts/{rows['bracket.stl']}")
    page.wait_for_selector("#viewer[data-status=ready]")
    page.click("#part-audit-link")
    page.wait_for_selector("#audit")
    assert page.locator("#audit tr[data-action=owner_mesh]").count() >= 1
    assert ("打开三维视图" if lang == "zh-CN" else "3D view opened") in page.inner_text("#audit")
    _shot(page, lang, "7-design-access-log")
    assert errors == []
    other.close()
    ctx.close()
