"""The buyer's inspection plan through the pages (issue 20, item 4): the order page links each line's plan; the
plan page takes features one per line (a bad line is refused in the page's language, nothing saved); the factory's
inspection form starts from the plan, and an inspection that measures every planned feature passes, after which
the plan is locked."""

from __future__ import annotations

import html

from pages_kit import Site, csrf_of


def test_the_buyer_plans_the_features_the_factory_measures(site: Site) -> None:
    zh = site.browser("zh-CN")
    site.signup_buyer(zh)
    order_id, site_id = site.ordered(zh)
    page = zh.get(f"/orders/{order_id}").text
    assert "检验计划（0）" in page
    assert "熔融沉积成型" in page and "fdm / fdm_pla" not in page  # the process and material by their names
    link = page.split('class="plan-link" href="')[1].split('"')[0]
    plan = zh.get(link)
    assert plan.status_code == 200 and 'id="plan-empty"' in plan.text and 'id="plan-form"' in plan.text
    assert 'href="/logout"' in plan.text or 'action="/logout"' in plan.text  # signed in, as on every page
    token = csrf_of(plan.text)
    bad = zh.post(link, data={"csrf_token": token, "plan": "bore_d five"})
    assert bad.status_code == 422 and "检验计划中有一行格式不对" in html.unescape(bad.text)
    r = zh.post(link, data={"csrf_token": token, "plan": "bore_d 5.00 ± 0.05\nslot_w 8.0 +0.1 -0.0\n"})
    assert r.status_code == 303, r.text[:500]
    saved = zh.get(r.headers["location"]).text
    assert 'data-feature="bore_d"' in saved and 'data-feature="slot_w"' in saved and "4.950 … 5.050" in saved
    assert "检验计划（2）" in zh.get(f"/orders/{order_id}").text

    f = site.browser("en")
    site.login(f, site.account("factory", site_id=site_id))
    work = f.get("/factory").text
    for status in ("in_production", "built"):
        r = f.post(f"/factory/orders/{order_id}/status", data={"csrf_token": csrf_of(work), "status": status})
        assert r.status_code == 303, r.text[:500]
    work = html.unescape(f.get("/factory").text)
    assert "bore_d = | 5 ± 0.05\nslot_w = | 8 +0.1 -0</textarea>" in work  # the form starts from the plan
    line = work.split('name="line_id" value="')[1].split('"')[0]
    missing = f.post(f"/factory/orders/{order_id}/inspection", data={
        "csrf_token": csrf_of(work), "line_id": line, "passed": "yes", "inspected_qty": "2",
        "measurements": "bore_d = 5.01 4.99 | 5 ± 0.05"})
    assert missing.status_code == 422 and "slot_w" in html.unescape(missing.text)
    ok = f.post(f"/factory/orders/{order_id}/inspection", data={
        "csrf_token": csrf_of(work), "line_id": line, "passed": "yes", "inspected_qty": "2",
        "measurements": "bore_d = 5.01 4.99 | 5 ± 0.05\nslot_w = 8.05 8.02 | 8 +0.1 -0"})
    assert ok.status_code == 303, ok.text[:800]
    locked = zh.get(link).text
    assert 'id="plan-locked"' in locked and 'id="plan-form"' not in locked
