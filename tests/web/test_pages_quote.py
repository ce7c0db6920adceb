"""The quote page a buyer expects (issue 17, items 5 and 6): offers sorted and filtered by the query, the price-break
table, prices with and without VAT per part and in total, set-up and run time, and when nothing can make the part:
what limits it, what could make it instead and the RFQ link; in English and in Chinese."""

from __future__ import annotations

import re
import time
from typing import Any

import trimesh
from pages_kit import Site, csrf_of
from starlette.testclient import TestClient


def _quote_page(site: Site, b: TestClient, mesh: trimesh.Trimesh, material: str, qty: int) -> str:
    part = site.upload(b, mesh.export(file_type="stl"), name="part.stl")
    deadline = time.monotonic() + 60
    while b.get(f"/api/v1/parts/{part['id']}").json()["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page = b.get(f"/parts/{part['id']}")
    r = b.post(f"/parts/{part['id']}/quote", data={"csrf_token": csrf_of(page.text), "material": material,
                                                    "quantity": str(qty), "destination": "Shenzhen"})
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def _attrs(html: str, name: str) -> list[str]:
    return re.findall(rf'<article class="offer" data-site="[^"]+"[^>]*? data-{name}="([^"]*)"', html)


def test_offers_sorted_filtered_with_price_breaks_and_vat(site: Site) -> None:
    b = site.browser()
    site.signup_buyer(b)
    url = _quote_page(site, b, trimesh.creation.box((40.0, 30.0, 10.0)), "fdm_pla", 20)
    quote: dict[str, Any] = b.get("/api/v1/quotes/" + url.rsplit("/", 1)[1]).json()
    html = b.get(url).text
    assert 'id="price-breaks"' in html and "VAT 13 %" in html
    rows = re.findall(r'<tr class="[^"]*" data-qty="(\d+)">', html)
    assert rows == ["1", "10", "20", "100", "1000"]
    assert 'class="asked" data-qty="20"' in html
    assert "Per part incl. VAT" in html and "Total incl. VAT" in html and "set-up" in html
    from fabgrid.data import load_catalog

    catalog = load_catalog()
    fdm = next(p for p in catalog.processes.values() if p.id.value == "fdm")
    assert fdm.name in html and "· fdm ·" not in html  # readable names, not ids
    # default order: price, then delivery, then distance; the nearest factory first among equal prices
    prices = [float(p) for p in _attrs(html, "price")]
    assert prices == sorted(prices) and len(prices) == len(quote["offers"])
    by_delivery = _attrs(b.get(url + "?sort=delivery").text, "delivery")
    assert by_delivery == sorted(by_delivery)
    by_distance = [float(d) for d in _attrs(b.get(url + "?sort=distance").text, "distance")]
    assert by_distance == sorted(by_distance) and by_distance[0] < 100  # a Shenzhen factory for a Shenzhen buyer
    soonest = min(o["lead_time_days"] for o in quote["offers"])
    few = b.get(url + f"?max_days={soonest}").text
    kept = re.findall(r'<article class="offer" data-site="([^"]+)"', few)
    assert kept and all(o["lead_time_days"] <= soonest for o in quote["offers"] if o["site"] in kept)
    certs = re.findall(r'<option value="([A-Z][^"]+)"', html)
    assert certs, "the certificate filter lists the offering factories' certificates"
    filtered = b.get(url + f"?certificate={certs[0]}").text
    articles = filtered.split('<article class="offer"')[1:]
    assert articles and len(articles) <= len(prices)
    assert all(certs[0] in a.split("</article>")[0] for a in articles)  # each shows the certificate asked for
    assert 'id="no-match"' in b.get(url + "?certificate=NOPE").text
    # the same page in Chinese
    zh = site.browser("zh-CN")
    zh.cookies = b.cookies
    text = zh.get(url).text
    assert "数量阶梯价" in text and "含税" in text and "单件含税价" in text
    rejected = re.search(r"<details><summary>.*?</details>", text, re.S)
    assert rejected is not None  # the sites that cannot offer: the process by its Chinese name, not its id
    assert not re.search(r"\((fdm|sla|sls|mjf|metal_pbf|cnc)\)", rejected.group(0)), rejected.group(0)[:500]


def test_nothing_can_make_it_says_why_and_what_can(site: Site) -> None:
    b = site.browser()
    site.signup_buyer(b)
    url = _quote_page(site, b, trimesh.creation.box((600.0, 40.0, 40.0)), "fdm_pla", 2)
    doc = b.get("/api/v1/quotes/" + url.rsplit("/", 1)[1]).json()
    assert doc["offers"] == [] and doc["rfq_suggested"] is True and doc["links"]["rfq"] == "/api/v1/rfqs"
    limits = {lim["code"]: lim for lim in doc["unmakeable"]["limits"]}
    assert limits["too_big"]["figures"]["part_x_mm"] == 600.0
    assert max(limits["too_big"]["figures"][k] for k in ("envelope_x_mm", "envelope_y_mm", "envelope_z_mm")) < 600
    alts = {a["material"]: a for a in doc["unmakeable"]["alternatives"]}
    assert "cnc_steel_45" in alts and alts["cnc_steel_45"]["offers"] > 0 and alts["cnc_steel_45"]["process"] == "cnc"
    html = b.get(url).text
    assert 'id="unmakeable"' in html and 'data-code="too_big"' in html and "largest build envelope" in html
    assert 'data-material="cnc_steel_45"' in html and 'id="rfq-link"' in html
    from fabgrid.data import load_catalog

    assert load_catalog().materials["cnc_steel_45"].name in html
    assert 'href="/rfqs?part=prt_' in html  # the RFQ form of the part (issue 19)
