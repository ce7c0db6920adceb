"""Inspection per feature against its tolerance, and SPC across a site's inspections (issue 20, item 4): three
orders of one part at one site, each inspected with three values of a bore; the site's SPC of the feature reads the
three inspections as subgroups (X-bar/R), its capability matches a hand computation, and each point names its
order and line. A pass with a value out of tolerance is refused and changes nothing; a buyer cannot read the SPC,
another factory has none."""

from __future__ import annotations

import statistics
from typing import Any

from web_kit import Platform

BORE = {"name": "bore_d", "nominal_mm": 5.0, "lsl_mm": 4.95, "usl_mm": 5.05}
SAMPLES = [(5.01, 4.99, 5.02), (5.00, 5.03, 4.98), (4.97, 5.01, 5.00)]


def _built(p: Platform, h: dict[str, str], part: dict[str, Any], qty: int, site: str | None,
           fh: dict[str, str] | None) -> tuple[dict[str, Any], str, dict[str, str]]:
    r = p.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": qty,
                                              "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    q = r.json()
    site = site or q["offers"][0]["site"]
    r = p.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": site}, headers=h)
    assert r.status_code == 201, r.text
    order = r.json()
    fh = fh or p.account("factory", site)
    for s in ("in_production", "built"):
        r = p.client.post(f"/api/v1/factory/orders/{order['id']}/status", json={"status": s}, headers=fh)
        assert r.status_code == 200, r.text
    return order, site, fh


def test_features_make_the_sites_spc(platform: Platform) -> None:
    p = platform
    h = p.buyer()
    part = p.upload(h)
    site, fh = None, None
    orders = []
    for i, vals in enumerate(SAMPLES):
        order, site, fh = _built(p, h, part, 3 + i, site, fh)
        url = f"/api/v1/factory/orders/{order['id']}/inspection"
        if i == 0:  # the site's lot of PLA goes on the record (genealogy)
            r = p.client.put("/api/v1/factory/materials", json={"materials": [
                {"material": "fdm_pla", "stock_kg": 40, "lot": "PLA-2611-A"}]}, headers=fh)
            assert r.status_code == 200, r.text  # a value out of tolerance cannot pass: 422, the line stays built
            bad = p.client.post(url, json={"passed": True, "inspected_qty": 3,
                                           "features": [BORE | {"values": [5.01, 5.07, 5.0]}]}, headers=fh)
            assert bad.status_code == 422 and bad.json()["title"] == "order.out_of_tolerance", bad.text
            assert "bore_d (1 of 3 values)" in bad.json()["detail"]
            assert p.client.get(f"/api/v1/orders/{order['id']}", headers=h).json()["status"] == "built"
            nolimit = p.client.post(url, json={"passed": True, "inspected_qty": 3, "features": [
                {"name": "bore_d", "nominal_mm": 5.0, "values": [5.0]}]}, headers=fh)
            assert nolimit.status_code == 422, nolimit.text
        r = p.client.post(url, json={"passed": True, "inspected_qty": 3, "features": [BORE | {"values": list(vals)}]},
                          headers=fh)
        assert r.status_code == 200, r.text
        ins = r.json()["lines"][0]["inspection"]
        assert ins["features"][0]["values"] == list(vals) and ins["by"] and ins["material_lot"] == "PLA-2611-A"
        orders.append(order)

    series = p.client.get("/api/v1/factory/quality/features", headers=fh).json()
    assert {"part_id": part["id"], "feature": "bore_d", "inspections": 3, "values": 9, "lsl_mm": 4.95,
            "usl_mm": 5.05} in series
    r = p.client.get("/api/v1/factory/quality/spc", params={"part_id": part["id"], "feature": "bore_d"}, headers=fh)
    assert r.status_code == 200, r.text
    spc = r.json()
    rep = spc["report"]
    assert rep["subgroup_size"] == 3 and rep["location"]["kind"].lower().startswith("x")
    means = [statistics.fmean(v) for v in SAMPLES]
    assert rep["location"]["values"] == [round(m, 10) for m in means] or all(
        abs(a - b) < 1e-9 for a, b in zip(rep["location"]["values"], means, strict=True))
    flat = [x for v in SAMPLES for x in v]
    cap = rep["capability"]
    assert cap["n"] == 9 and abs(cap["mean_mm"] - statistics.fmean(flat)) < 1e-9
    assert abs(cap["sigma_overall_mm"] - statistics.stdev(flat)) < 1e-9
    ppk = min(5.05 - statistics.fmean(flat), statistics.fmean(flat) - 4.95) / (3 * statistics.stdev(flat))
    assert abs(cap["ppk"] - ppk) < 1e-6 and cap["out_of_tolerance"] == 0
    assert [pt["order_id"] for pt in spc["points"]] == [o["id"] for o in orders]
    assert all(pt["at"] and pt["values"] and pt["material_lot"] == "PLA-2611-A" for pt in spc["points"])

    assert p.client.get("/api/v1/factory/quality/spc", params={"part_id": part["id"], "feature": "bore_d"},
                        headers=h).status_code == 403
    other = p.account("factory", next(s for s in ("cs-tianxin-01", "cs-lugu-01") if s != site))
    r = p.client.get("/api/v1/factory/quality/spc", params={"part_id": part["id"], "feature": "bore_d"},
                     headers=other)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    html = p.client.get(f"/api/v1/orders/{orders[0]['id']}", headers=h).json()
    assert html["lines"][0]["inspection"]["features"][0]["name"] == "bore_d"


def test_the_inspection_report_lists_the_features(platform: Platform) -> None:
    """The report (HTML and PDF, zh-CN and en) shows each feature with its limits, values and result."""
    from fabgrid.services import orders as order_service
    from fabgrid.services.accounts import Principal
    from fabgrid.web.buyer import inspection_html

    p = platform
    h = p.buyer()
    part = p.upload(h)
    order, _site, fh = _built(p, h, part, 2, None, None)
    r = p.client.post(f"/api/v1/factory/orders/{order['id']}/inspection", json={
        "passed": False, "inspected_qty": 2, "features": [BORE | {"values": [5.06, 5.0]}]}, headers=fh)
    assert r.status_code == 200 and r.json()["status"] == "in_production", r.text
    who = Principal(user_id=0, email="ops@park", name="ops", role="operator", organisation_id=0,
                    organisation="park", site_id=None)
    o = order_service.get_order(p.settings, who, order["id"])
    en, zh = inspection_html(o, "en"), inspection_html(o, "zh")
    assert "bore_d" in en and "5.060 5.000" in en and "1 out of tolerance" in en and "4.950 … 5.050" in en
    assert "1 个超差" in zh and "按公差检测的特征" in zh
    # reworked and inspected again: both inspections are subgroups of the part's SPC, the failed one first
    r = p.client.post(f"/api/v1/factory/orders/{order['id']}/status", json={"status": "built"}, headers=fh)
    assert r.status_code == 200, r.text
    r = p.client.post(f"/api/v1/factory/orders/{order['id']}/inspection", json={
        "passed": True, "inspected_qty": 2, "features": [BORE | {"values": [5.01, 4.99]}]}, headers=fh)
    assert r.status_code == 200 and r.json()["status"] == "inspected", r.text
    assert [x["passed"] for x in r.json()["lines"][0]["inspection"]["previous"]] == [False]
    spc = p.client.get("/api/v1/factory/quality/spc", params={"part_id": part["id"], "feature": "bore_d"},
                       headers=fh).json()
    assert [(pt["passed"], pt["values"], pt["out_of_tolerance"]) for pt in spc["points"]] == [
        (False, [5.06, 5.0], 1), (True, [5.01, 4.99], 0)]
    assert spc["report"]["subgroup_size"] == 2 and spc["report"]["capability"]["out_of_tolerance"] == 1


def test_the_buyers_inspection_plan_is_what_the_factory_measures(platform: Platform) -> None:
    """The buyer sets a line's inspection plan (PUT /orders/{id}/lines/{line}/features); the factory's inspection
    must measure every planned feature against the plan's limits (422 naming what is missing or different, nothing
    changed), may measure more, and the plan is locked once the line is inspected. Another organisation gets 404, a
    factory 403; a feature without a tolerance or named twice is 422."""
    p = platform
    h = p.buyer()
    part = p.upload(h)
    r = p.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 2,
                                              "destination": "Changsha"}, headers=h)
    q = r.json()
    site = q["offers"][0]["site"]
    order = p.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": site}, headers=h).json()
    oid, lid = order["id"], order["lines"][0]["id"]
    url = f"/api/v1/orders/{oid}/lines/{lid}/features"
    hole = {"name": "hole_d", "nominal_mm": 3.0, "lsl_mm": 2.98, "usl_mm": 3.05}
    r = p.client.put(url, json={"features": [BORE, hole]}, headers=h)
    assert r.status_code == 200, r.text
    assert [f["name"] for f in r.json()["lines"][0]["feature_plan"]] == ["bore_d", "hole_d"]
    assert r.json()["timeline"][-1]["note_key"] == "feature_plan"
    assert p.client.put(url, json={"features": [BORE, BORE]}, headers=h).status_code == 422
    assert p.client.put(url, json={"features": [{"name": "x", "nominal_mm": 1.0}]}, headers=h).status_code == 422
    assert p.client.put(url, json={"features": [BORE]}, headers=p.buyer()).status_code == 404
    fh = p.account("factory", site)
    assert p.client.put(url, json={"features": [BORE]}, headers=fh).status_code == 403
    for s in ("in_production", "built"):
        assert p.client.post(f"/api/v1/factory/orders/{oid}/status", json={"status": s}, headers=fh).status_code == 200
    insp = f"/api/v1/factory/orders/{oid}/inspection"
    only_bore = p.client.post(insp, json={"passed": True, "inspected_qty": 2,
                                          "features": [BORE | {"values": [5.0, 5.01]}]}, headers=fh)
    assert only_bore.status_code == 422 and only_bore.json()["title"] == "order.plan_missing"
    assert "hole_d" in only_bore.json()["detail"]
    looser = p.client.post(insp, json={"passed": True, "inspected_qty": 2, "features": [
        BORE | {"values": [5.0, 5.01]}, hole | {"usl_mm": 3.2, "values": [3.1, 3.0]}]}, headers=fh)
    assert looser.status_code == 422 and looser.json()["title"] == "order.plan_limits"
    assert p.client.get(f"/api/v1/orders/{oid}", headers=h).json()["status"] == "built"  # nothing changed
    extra = {"name": "flatness", "nominal_mm": 0.0, "usl_mm": 0.1, "values": [0.04]}
    ok = p.client.post(insp, json={"passed": True, "inspected_qty": 2, "features": [
        BORE | {"values": [5.0, 5.01]}, hole | {"values": [3.0, 3.01]}, extra]}, headers=fh)
    assert ok.status_code == 200 and ok.json()["status"] == "inspected", ok.text
    assert [f["name"] for f in ok.json()["lines"][0]["inspection"]["features"]] == ["bore_d", "hole_d", "flatness"]
    locked = p.client.put(url, json={"features": []}, headers=h)
    assert locked.status_code == 409 and locked.json()["title"] == "order.plan_locked"
