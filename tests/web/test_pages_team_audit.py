"""The team page (issue 17, item 7): an administrator invites a colleague, who joins through the link's page and
lands logged in; a buyer member sees the team but gets no invitation form and a 403 page when posting one. The
design access log page: who accessed which design when, in zh-CN and en, filtered by design and refused attempts,
and only for the owner's organisation."""

from __future__ import annotations

import json
import re
import sqlite3

from pages_kit import PASSWORD, Site, csrf_of


def _link_of(site: Site, email: str) -> str:
    """The join link of the last invitation e-mail queued for `email` (the e-mail job's body)."""
    db = site.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT params FROM jobs WHERE kind = 'email' ORDER BY created_at").fetchall()
    bodies = [json.loads(p)["body"] for (p,) in rows if email in json.loads(p)["to"]]
    m = re.search(r"https?://[^/\s]+(/team/join/fgi_[A-Za-z0-9_\-]+)", bodies[-1])
    assert m, bodies
    return m.group(1)


def test_team_page_invite_and_join(site: Site) -> None:
    admin = site.browser()
    site.login(admin, site.signup_buyer(admin))
    page = admin.get("/team")
    assert page.status_code == 200 and 'id="invite-form"' in page.text
    r = admin.post("/team/invite", data={"csrf_token": csrf_of(page.text), "email": "not-an-address", "role": "buyer"})
    assert r.status_code == 422 and 'id="team-error"' in r.text
    r = admin.post("/team/invite", data={"csrf_token": csrf_of(page.text), "email": "wang.fang@team.example.com",
                                         "role": "buyer"})
    assert r.status_code == 303, r.text
    page = admin.get(r.headers["location"])
    assert 'id="team-sent"' in page.text and '<tr data-email="wang.fang@team.example.com">' in page.text

    link = _link_of(site, "wang.fang@team.example.com")
    invitee = site.browser("zh")
    join = invitee.get(link)
    assert join.status_code == 200 and "采购员" in join.text and "wang.fang@team.example.com" in join.text
    r = invitee.post(link, data={"csrf_token": csrf_of(join.text), "name": "王芳", "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/parts", r.text
    assert invitee.get("/parts").status_code == 200  # logged in
    assert invitee.get(link).status_code == 404  # the link works once

    page = invitee.get("/team")
    assert page.status_code == 200 and 'id="team-not-admin"' in page.text and 'id="invite-form"' not in page.text
    assert "王芳" in page.text and "管理员" in page.text
    r = invitee.post("/team/invite", data={"csrf_token": csrf_of(page.text), "email": "x@team.example.com"})
    assert r.status_code == 403
    assert "member-remove" not in page.text  # a buyer member removes no one

    # the admin removes the colleague: gone from the list, logged out on their next page
    page = admin.get("/team")
    uid = re.search(r'action="/team/members/(\d+)/remove"', page.text)
    assert uid and page.text.count('class="inline-form member-remove"') == 1  # not the admin's own row
    r = admin.post(f"/team/members/{uid.group(1)}/remove", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    assert "wang.fang@team.example.com" not in admin.get("/team").text
    assert invitee.get("/parts", follow_redirects=False).status_code in (302, 303)


def test_design_access_log_page(site: Site) -> None:
    b = site.browser()
    site.login(b, site.signup_buyer(b))
    part = site.upload(b, name="bracket-audit.stl")
    token = csrf_of(b.get("/parts").text)
    assert b.get(f"/api/v1/parts/{part['id']}/design", headers={"X-CSRF-Token": token}).status_code == 200
    assert b.get(f"/api/v1/parts/{part['id']}/mesh", headers={"X-CSRF-Token": token}).status_code == 200
    page = b.get("/designs/audit")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-allowed="(yes|no)" data-action="([a-z_]+)">', page.text)
    assert rows[:2] == [("yes", "owner_mesh"), ("yes", "owner_download")]  # newest first
    assert "bracket-audit.stl" in page.text and "design downloaded (your organisation)" in page.text
    zh = site.browser("zh")
    zh.cookies = b.cookies
    page = zh.get(f"/designs/audit?part={part['id']}")
    assert "设计访问记录" in page.text and "下载设计文件（本组织）" in page.text and "允许" in page.text
    assert 'id="audit-none"' in b.get("/designs/audit?refused=1").text  # nothing refused
    other = site.browser()
    site.login(other, site.signup_buyer(other))
    assert other.get(f"/designs/audit?part={part['id']}").status_code == 404
    assert "bracket-audit.stl" not in other.get("/designs/audit").text
