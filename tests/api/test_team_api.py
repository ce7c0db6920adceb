"""Team accounts (issue 17, item 7): an organisation's administrator invites a colleague by e-mail (a real SMTP
server, aiosmtpd), the invitee joins through the link and sees the organisation's orders; a buyer member cannot
invite or change roles (403 problem+json); the link works once, a withdrawn one not at all; the last
administrator stays one; bad input is a 4xx problem."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from web_kit import PASSWORD, Platform, box_stl, make_settings

from fabgrid.app import create_app

_LINK = re.compile(r"http://testserver/team/join/(fgi_[A-Za-z0-9_\-]+)")


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=default)
        body = msg.get_body()
        self.messages.append((list(envelope.rcpt_tos), str(msg["subject"]),
                              body.get_content() if body is not None else ""))
        return "250 OK"

    def wait_for(self, to: str, timeout_s: float = 20.0, nth: int = 1) -> tuple[str, str]:
        """The `nth` e-mail to `to`, once it came."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            mine = [(subject, body) for rcpt, subject, body in self.messages if to in rcpt]
            if len(mine) >= nth:
                return mine[nth - 1]
            time.sleep(0.05)
        raise AssertionError(f"no e-mail to {to}: {self.messages}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mailbox() -> Iterator[_Mailbox]:
    box = _Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    box.url = f"smtp://127.0.0.1:{ctl.port}"  # type: ignore[attr-defined]
    yield box
    ctl.stop()


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory, mailbox: _Mailbox) -> Iterator[Platform]:
    settings = replace(make_settings(tmp_path_factory.mktemp("team")), smtp_url=mailbox.url)  # type: ignore[attr-defined]
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def _problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert r.json()["title"] == code and r.json()["detail"], r.json()


def _order(p: Platform, h: dict[str, str]) -> str:
    part = p.upload(h, box_stl(20, 30, 10))
    q = p.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 2},
                      headers=h).json()
    r = p.client.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"], "site": q["offers"][0]["site"]}],
                                              "consent_design_sharing": True}, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_invite_join_roles_and_orders(own: Platform, mailbox: _Mailbox) -> None:
    c = own.client
    admin = own.buyer("Xiangjiang Robotics Team")
    me = c.get("/api/v1/team", headers=admin).json()
    assert [m["role"] for m in me["members"]] == ["admin"]  # who made the organisation runs its team
    order_id = _order(own, admin)

    r = c.post("/api/v1/team/invitations", json={"email": "Colleague@Robotics.example.com", "role": "buyer"},
               headers=admin)
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["email"] == "colleague@robotics.example.com" and "token" not in inv
    subject, body = mailbox.wait_for("colleague@robotics.example.com")
    assert "Xiangjiang Robotics Team" in subject and "邀请您加入" in subject
    assert "采购员" in body and "as buyer" in body
    link = _LINK.search(body)
    assert link, body
    token = link.group(1)
    _problem(c.post("/api/v1/team/invitations", json={"email": "colleague@robotics.example.com"}, headers=admin),
             409, "team.invited")
    assert [i["email"] for i in c.get("/api/v1/team", headers=admin).json()["invitations"]] == [inv["email"]]

    _problem(c.post("/api/v1/team/join", json={"token": token, "name": "Wang", "password": "short"}), 422,
             "auth.weak_password")
    r = c.post("/api/v1/team/join", json={"token": token, "name": "Wang Fang", "password": PASSWORD})
    assert r.status_code == 201 and r.json()["organisation"] == "Xiangjiang Robotics Team", r.text
    _problem(c.post("/api/v1/team/join", json={"token": token, "name": "Again", "password": PASSWORD}), 404,
             "team.invitation_gone")  # the link works once
    colleague = own.login("colleague@robotics.example.com")

    # members see the organisation's orders (and its parts)
    assert order_id in [o["id"] for o in c.get("/api/v1/orders", headers=colleague).json()]
    assert c.get(f"/api/v1/orders/{order_id}", headers=colleague).status_code == 200
    team = c.get("/api/v1/team", headers=colleague).json()
    assert {(m["email"], m["role"]) for m in team["members"]} >= {("colleague@robotics.example.com", "buyer")}
    assert team["invitations"] == []

    # a buyer member cannot invite, change roles or withdraw: 403 problem+json
    _problem(c.post("/api/v1/team/invitations", json={"email": "third@robotics.example.com"}, headers=colleague),
             403, "team.not_admin")
    admin_id = next(m["user_id"] for m in team["members"] if m["role"] == "admin")
    mine = next(m["user_id"] for m in team["members"] if m["role"] == "buyer")
    _problem(c.patch(f"/api/v1/team/members/{mine}", json={"role": "admin"}, headers=colleague), 403,
             "team.not_admin")

    # the admin makes the colleague an admin, who may then invite; the last admin cannot be demoted
    _problem(c.patch(f"/api/v1/team/members/{admin_id}", json={"role": "buyer"}, headers=admin), 409,
             "team.last_admin")
    r = c.patch(f"/api/v1/team/members/{mine}", json={"role": "admin"}, headers=admin)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    r = c.post("/api/v1/team/invitations", json={"email": "third@robotics.example.com", "role": "admin"},
               headers=colleague)
    assert r.status_code == 201, r.text
    third = r.json()
    _, body = mailbox.wait_for("third@robotics.example.com")
    third_token = _LINK.search(body)
    assert third_token
    assert c.delete(f"/api/v1/team/invitations/{third['id']}", headers=admin).status_code == 204
    _problem(c.post("/api/v1/team/join", json={"token": third_token.group(1), "name": "T", "password": PASSWORD}),
             404, "team.invitation_gone")  # withdrawn

    # another organisation's admin sees nothing of this team and cannot touch it
    other = own.buyer()
    assert order_id not in [o["id"] for o in c.get("/api/v1/orders", headers=other).json()]
    _problem(c.patch(f"/api/v1/team/members/{mine}", json={"role": "buyer"}, headers=other), 404, "team.member")
    _problem(c.delete(f"/api/v1/team/invitations/{third['id']}", headers=other), 404, "team.invitation")


def _join(p: Platform, mailbox: _Mailbox, admin: dict[str, str], email: str, name: str,
          nth: int = 1) -> dict[str, str]:
    r = p.client.post("/api/v1/team/invitations", json={"email": email, "role": "buyer"}, headers=admin)
    assert r.status_code == 201, r.text
    _, body = mailbox.wait_for(email, nth=nth)
    link = _LINK.search(body)
    assert link, body
    r = p.client.post("/api/v1/team/join", json={"token": link.group(1), "name": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return p.login(email)


def test_an_admin_removes_a_member(own: Platform, mailbox: _Mailbox) -> None:
    c = own.client
    admin = own.buyer("Yuelu Drones Team")
    me = c.get("/api/v1/auth/me", headers=admin).json()
    assert me["team_role"] == "admin"
    email = "pilot@drones.example.com"
    member = _join(own, mailbox, admin, email, "Zhao Lei")
    assert c.get("/api/v1/auth/me", headers=member).json()["team_role"] == "buyer"
    key = c.post("/api/v1/auth/api-keys", json={"name": "ERP"}, headers=member).json()["api_key"]
    order_id = _order(own, member)
    uid = next(m["user_id"] for m in c.get("/api/v1/team", headers=admin).json()["members"] if m["email"] == email)

    _problem(c.delete(f"/api/v1/team/members/{me['id']}", headers=admin), 409, "team.remove_self")
    _problem(c.delete(f"/api/v1/team/members/{me['id']}", headers=member), 403, "team.not_admin")
    _problem(c.delete(f"/api/v1/team/members/{uid}", headers=own.buyer()), 404, "team.member")
    assert c.delete(f"/api/v1/team/members/{uid}", headers=admin).status_code == 204
    # gone from the team; the session and the API key stop at once; log-in refused with the reason
    assert email not in [m["email"] for m in c.get("/api/v1/team", headers=admin).json()["members"]]
    assert c.get("/api/v1/auth/me", headers=member).status_code == 401
    assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    r = c.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    _problem(r, 403, "auth.removed")
    # what they ordered stays the organisation's
    assert c.get(f"/api/v1/orders/{order_id}", headers=admin).status_code == 200
    _problem(c.delete(f"/api/v1/team/members/{uid}", headers=admin), 404, "team.member")  # removed already
    # invited again, they come back with the account they had (the same user id)
    back = _join(own, mailbox, admin, email, "Zhao Lei", nth=2)
    assert c.get("/api/v1/auth/me", headers=back).json()["id"] == uid
    assert c.get(f"/api/v1/orders/{order_id}", headers=back).status_code == 200


def test_bad_input_is_a_problem(own: Platform) -> None:
    c = own.client
    admin = own.buyer()
    _problem(c.post("/api/v1/team/invitations", json={"email": "not-an-address"}, headers=admin), 422, "team.email")
    r = c.post("/api/v1/team/invitations", json={"email": "x@example.com", "role": "owner"}, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    _problem(c.post("/api/v1/team/join", json={"token": "fgi_unknown-token", "name": "X", "password": PASSWORD}),
             404, "team.invitation_gone")
    me = c.get("/api/v1/team", headers=admin).json()["members"][0]
    _problem(c.post("/api/v1/team/invitations", json={"email": me["email"]}, headers=admin), 409,
             "team.member_exists")
    factory = own.account("factory", None)
    _problem(c.get("/api/v1/team", headers=factory), 403, "team.not_buyer")
