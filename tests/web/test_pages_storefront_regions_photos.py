"""The storefront page declares the provinces a factory ships to and adds showroom photos (issue 18, items 2 and 4);
an unknown province is shown on the page in the user's language and changes nothing; the booth shows the photo."""

from __future__ import annotations

import html
import io
import re

from pages_kit import Site, csrf_of
from PIL import Image

from fabgrid.data import load_network


def test_regions_and_photos_on_the_storefront_page(site: Site) -> None:
    site_id = sorted(load_network().sites)[0]
    fac = site.browser()
    site.login(fac, site.account("factory", site_id))
    page = fac.get("/factory/storefront")
    assert page.status_code == 200 and 'id="regions-form"' in page.text and 'id="photo-form"' in page.text
    r = fac.post("/factory/storefront/regions", data={"csrf_token": csrf_of(page.text), "provinces": "湖南， Hubei"})
    assert r.status_code == 303, r.text
    page = fac.get("/factory/storefront")
    assert 'value="Hunan, Hubei"' in page.text
    bad = fac.post("/factory/storefront/regions", data={"csrf_token": csrf_of(page.text), "provinces": "Atlantis"})
    assert bad.status_code == 422 and "is not a province the network delivers to" in html.unescape(bad.text)
    assert 'value="Hunan, Hubei"' in fac.get("/factory/storefront").text
    zh = site.browser("zh-CN")
    site.login(zh, site.account("factory", site_id))
    assert "发货地区" in zh.get("/factory/storefront").text and "展厅照片" in zh.get("/factory/storefront").text

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, format="JPEG")
    page = fac.get("/factory/storefront")
    r = fac.post("/factory/showroom/photos", data={"csrf_token": csrf_of(page.text)},
                 files={"photo": ("floor.jpg", out.getvalue(), "image/jpeg")})
    assert r.status_code == 303, r.text
    bad = fac.post("/factory/showroom/photos", data={"csrf_token": csrf_of(page.text)},
                   files={"photo": ("floor.jpg", b"plain text", "image/jpeg")})
    assert bad.status_code == 415 and "not a readable image" in html.unescape(bad.text)
    booth = site.browser().get(f"/showroom/{site_id}")
    assert booth.status_code == 200 and f'src="/showroom/{site_id}/photos/' in booth.text
    # the storefront removes the photo: gone from the booth; a second removal is a 404 page, nothing else changes
    page = fac.get("/factory/storefront")
    names = re.findall(r'data-photo="([^"]+)"', page.text)
    assert len(names) == 1 and f'action="/factory/showroom/photos/{names[0]}/delete"' in page.text
    r = fac.post(f"/factory/showroom/photos/{names[0]}/delete", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    assert f'src="/showroom/{site_id}/photos/' not in site.browser().get(f"/showroom/{site_id}").text
    again = fac.post(f"/factory/showroom/photos/{names[0]}/delete", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 404
    assert fac.post(f"/factory/showroom/photos/{names[0]}/delete", data={}).status_code == 403  # no CSRF token
    # the showroom (and GET /api/v1/sites) filter by the province a factory ships to
    public = site.browser("zh-CN")
    shown = public.get("/showroom", params={"ships_to": "Hubei"}).text
    assert f'data-site="{site_id}"' in shown and '<option value="Hubei" selected>湖北</option>' in shown
    assert f'data-site="{site_id}"' not in public.get("/showroom", params={"ships_to": "Guangdong"}).text
    api = [s["id"] for s in site.browser().get("/api/v1/sites", params={"ships_to": "Guangdong"}).json()["sites"]]
    assert site_id not in api and api  # those that ship everywhere stay
    assert site_id in [s["id"] for s in site.browser().get("/api/v1/sites", params={"ships_to": "Hunan"}).json()
                       ["sites"]]
    # back to shipping everywhere
    page = fac.get("/factory/storefront")
    assert fac.post("/factory/storefront/regions", data={"csrf_token": csrf_of(page.text),
                                                         "provinces": ""}).status_code == 303
