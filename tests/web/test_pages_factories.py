"""The factory onboarding pages in en and zh-CN: a company signs up as a factory, applies (a wrong check character
is shown on the form, nothing stored), the operator approves it in the queue, the factory declares a Prusa MK4 with
PLA and a rate on its storefront and goes at capacity, the operator verifies it and its booth is in the showroom."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pages_kit import PASSWORD, Site, csrf_of

CODE = "91430100MA4L0XXXXD"
APPLICATION = {"legal_name": "长沙岳麓精密增材有限公司", "address": "岳麓区麓谷大道 627 号", "city": "Changsha",
               "province": "Hunan", "contact_name": "Li Wei", "contact_phone": "+86 731 8888 0000",
               "contact_email": "li@yuelu-am.example.com", "cert_name_0": "ISO 9001", "cert_number_0": "QMS-0815",
               "cert_expires_0": "2028-06-30"}


def _post(b: TestClient, path: str, page: str, data: dict[str, str]) -> object:
    return b.post(path, data={"csrf_token": csrf_of(b.get(page).text), **data})


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_join_approve_storefront_showroom(site: Site, lang: str) -> None:
    n = site.next_n()
    code = CODE if lang == "en" else "91430100MA4L0XXXYG"
    b = site.browser(lang)
    page = b.get("/join")
    assert page.status_code == 200 and 'id="factory-signup-form"' in page.text
    email = f"owner{n}@factory{n}.example.com"
    r = _post(b, "/join/signup", "/join", {"name": "Li Wei", "organisation": f"Yuelu AM {n}", "email": email,
                                           "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/join"  # type: ignore[attr-defined]
    form = b.get("/join").text
    assert 'id="application-form"' in form
    assert ("统一社会信用代码" if lang == "zh" else "Unified social credit code") in form

    bad = _post(b, "/join", "/join", {**APPLICATION, "credit_code": code[:-1] + "7"})
    said = "position 18" if lang == "en" else "统一社会信用代码无效"  # zh: the code's text, without the position
    assert bad.status_code == 422 and said in bad.text  # type: ignore[attr-defined]
    assert 'id="my-applications"' not in bad.text  # type: ignore[attr-defined]
    r = _post(b, "/join", "/join", {**APPLICATION, "legal_name": f"{APPLICATION['legal_name']} {n}",
                                    "credit_code": code})
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    mine = b.get("/join").text
    assert 'id="my-applications"' in mine and ("待审核" if lang == "zh" else "pending") in mine

    op = site.browser(lang)
    site.login(op, site.account("operator"))
    queue = op.get("/operator/factories").text
    assert code in queue
    app_id = queue.split('data-application="')[1].split('"')[0]
    r = _post(op, f"/operator/factories/{app_id}/approve", "/operator/factories", {"reason": "licence checked"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert code not in op.get("/operator/factories").text.split('id="probation"')[0]

    # the factory's session now acts for its new site
    r = b.get("/factory")
    assert r.status_code == 303 or r.status_code == 200
    store = b.get("/factory/storefront")
    assert store.status_code == 200 and 'id="machines-form"' in store.text
    r = _post(b, "/factory/storefront/machines", "/factory/storefront",
              {"machine_rows": "2", "machine_model_0": "prusa_mk4", "machine_name_0": "MK4 #1"})
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    r = _post(b, "/factory/storefront/materials", "/factory/storefront",
              {"stock_rows": "2", "stock_material_0": "fdm_pla", "stock_kg_0": "25", "stock_lot_0": "PLA-A"})
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    r = _post(b, "/factory/storefront/rates", "/factory/storefront",
              {"rate_prusa_mk4": "-4", "markup_pct": "10", "minimum_order_cny": "0"})
    said = "outside 0 &lt; rate" if lang == "en" else "价格超出允许范围"  # zh: the code's text
    assert r.status_code == 422 and said in r.text  # type: ignore[attr-defined]
    r = _post(b, "/factory/storefront/rates", "/factory/storefront",
              {"rate_prusa_mk4": "12", "markup_pct": "10", "minimum_order_cny": "50"})
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    r = _post(b, "/factory/storefront/calendar", "/factory/storefront",
              {"workday_0": "1", "workday_1": "1", "shifts": "day 08:00-17:00",
               "entries": "holiday 2027-01-04 2027-01-05\nmaintenance 2027-01-05 2027-01-06"})
    said = "overlaps" if lang == "en" else "时间重叠"
    assert r.status_code == 422 and said in r.text  # type: ignore[attr-defined]
    r = _post(b, "/factory/storefront/capacity", "/factory/storefront", {"at_capacity": "1", "max_queue_h": "120"})
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    store = b.get("/factory/storefront").text
    assert 'id="at-capacity-badge"' in store and 'value="12.0"' in store and "PLA-A" in store

    site_id = store.split('href="/showroom/')[1].split('"')[0]
    assert b.get(f"/showroom/{site_id}").status_code == 200  # its own booth, on probation
    assert site.browser(lang).get(f"/showroom/{site_id}").status_code == 404  # not public yet
    r = _post(op, f"/operator/factories/site/{site_id}/verify", "/operator/factories", {})
    assert r.status_code == 303  # type: ignore[attr-defined]
    public = site.browser(lang)
    booth = public.get(f"/showroom/{site_id}").text
    assert 'id="verified-badge"' in booth and "Prusa" in booth and "fdm_pla" in booth and "ISO 9001" in booth
    claims = "claims upheld (of 0 decided)" if lang == "en" else "项索赔成立（共裁定 0 项）"
    assert 'id="claims-upheld"' in booth and claims in booth  # the claims in the scorecard
    listed = public.get("/showroom", params={"material": "fdm_pla", "city": "Changsha"}).text
    assert f'data-site="{site_id}"' in listed
    # places in the page's language: the city select's labels, the booth's and the cards' city and province
    place = "长沙, 湖南" if lang == "zh" else "Changsha, Hunan"
    assert place in booth and place in listed and ('>长沙</option>' in listed) == (lang == "zh"), place
    assert ">Urumqi</option>" not in listed or lang == "en"
    assert f'data-site="{site_id}"' not in public.get("/showroom", params={"process": "sls"}).text
