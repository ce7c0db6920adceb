"""The factory's quality page (issue 20, item 4): a feature typed on the work list's inspection form against its
tolerance is listed per part, and its SPC shows capability, the control charts (SVG) and each inspection, in
English and Chinese; a value out of tolerance cannot pass, and the form says so."""

from __future__ import annotations

import html

from pages_kit import Site, csrf_of


def test_a_measured_feature_has_its_spc_page(site: Site) -> None:
    buyer = site.browser()
    site.signup_buyer(buyer)
    order_id, site_id = site.ordered(buyer)
    fac = site.browser()
    site.login(fac, site.account("factory", site_id))
    for status in ("in_production", "built"):
        r = fac.post(f"/factory/orders/{order_id}/status", data={"csrf_token": csrf_of(fac.get("/factory").text),
                                                                 "status": status})
        assert r.status_code == 303, r.text
    bad = fac.post(f"/factory/orders/{order_id}/inspection", data={
        "csrf_token": csrf_of(fac.get("/factory").text), "passed": "yes", "inspected_qty": "2",
        "measurements": "bore_d = 5.01 5.09 | 5.00 ± 0.05"})
    assert bad.status_code == 422 and "bore_d (1 of 2 values)" in html.unescape(bad.text)
    r = fac.post(f"/factory/orders/{order_id}/inspection", data={
        "csrf_token": csrf_of(fac.get("/factory").text), "passed": "yes", "inspected_qty": "2",
        "measurements": "bore_d = 5.01 4.98 5.02 | 5.00 ± 0.05\nlength_mm = 20.03"})
    assert r.status_code == 303, r.text
    order = buyer.get(f"/api/v1/orders/{order_id}").json()
    part = order["lines"][0]["part_id"]
    assert order["lines"][0]["inspection"]["features"][0]["values"] == [5.01, 4.98, 5.02]

    page = fac.get("/factory/quality")
    assert page.status_code == 200 and 'data-feature="bore_d"' in page.text
    page = fac.get("/factory/quality", params={"part": part, "feature": "bore_d"})
    assert page.status_code == 200, page.text
    assert page.text.count('class="spc-chart"') == 2 and 'id="cap-ppk"' in page.text and order_id in page.text
    zh = site.browser("zh")
    site.login(zh, site.account("factory", site_id))
    page = zh.get("/factory/quality", params={"part": part, "feature": "bore_d"})
    assert page.status_code == 200 and "质量与统计过程控制" in page.text and "子组大小" in page.text
    assert "单值图" in page.text and "过程能力不足" in page.text and "process is not capable" not in page.text
    assert zh.get("/factory/quality", params={"part": part, "feature": "nope"}).status_code == 404
    assert buyer.get("/factory/quality").status_code == 403
    page = buyer.get(f"/orders/{order_id}")  # the buyer sees the features and the line's genealogy
    assert page.status_code == 200 and 'id="features-1"' in page.text and "4.950 … 5.050" in page.text
    assert 'id="genealogy-1"' in page.text and "material lot" in page.text and "Build started by" in page.text
