"""The factory's re-plan from the builds page runs as a background job (issue 21, item 1): the page follows it
(progress, reloading itself) and says, in the page's language, how many builds the plan made."""

from __future__ import annotations

import html
import re
import time

from pages_kit import Site, csrf_of


def test_the_builds_page_follows_the_replanning_job(site: Site) -> None:
    buyer = site.browser("en")
    site.signup_buyer(buyer)
    _, site_id = site.ordered(buyer)
    zh = site.browser("zh-CN")
    site.login(zh, site.account("factory", site_id=site_id))
    page = zh.get("/factory/builds")
    r = zh.post("/factory/builds/plan", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and re.fullmatch(r"/factory/builds\?job=job_\w+", r.headers["location"]), r.text[:300]
    deadline = time.monotonic() + 120
    while True:
        shown = zh.get(r.headers["location"]).text
        card = re.search(r'<section class="card" id="plan-job" data-status="(\w+)">', shown)
        assert card is not None, shown[:2000]
        if card.group(1) in ("succeeded", "failed"):
            break
        assert 'http-equiv="refresh"' in shown and "正在重新规划" in shown  # it follows the job
        assert time.monotonic() < deadline
        time.sleep(0.3)
    text = html.unescape(shown)
    assert card.group(1) == "succeeded" and "已重新规划：1 个成型批次" in text, text[:3000]
    assert 'http-equiv="refresh"' not in shown and "<tr data-build=" in shown
    en = site.browser("en")
    site.login(en, site.account("factory", site_id=site_id))
    assert en.get(r.headers["location"]).status_code == 404  # another organisation's job is not shown
