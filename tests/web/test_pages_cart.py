"""Three parts ordered as one order through the pages: each quote's offer into the cart, then one order."""

from __future__ import annotations

import re
import time

from pages_kit import Site, box_stl, csrf_of


def test_three_parts_through_the_cart(site: Site) -> None:
    b = site.browser()
    site.login(b, site.signup_buyer(b))
    quote_pages = []
    for i, dims in enumerate([(20, 30, 10), (40, 15, 12), (25, 25, 25)]):
        pid = site.upload(b, box_stl(*dims), name=f"cart{i}.stl")["id"]
        deadline = time.monotonic() + 60
        while b.get(f"/api/v1/parts/{pid}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        page = b.get(f"/parts/{pid}")
        r = b.post(f"/parts/{pid}/quote", data={"csrf_token": csrf_of(page.text), "process": "fdm",
                                                 "material": "fdm_pla", "quantity": str(i + 1)})
        assert r.status_code == 303, r.text
        quote_pages.append(r.headers["location"])
    for loc in quote_pages:
        qpage = b.get(loc)
        sid = re.search(r'<article class="offer" data-site="([^"]+)"', qpage.text)
        assert sid
        r = b.post(loc + "/order", data={"csrf_token": csrf_of(qpage.text), "site": sid.group(1),
                                         f"tier_{sid.group(1)}": "standard", "action": "cart"})
        assert r.status_code == 303 and r.headers["location"] == "/cart"
    cart = b.get("/cart")
    assert cart.status_code == 200 and cart.text.count('<tr data-quote="') == 3
    r = b.post("/cart/order", data={"csrf_token": csrf_of(cart.text), "consent": "yes"})
    assert r.status_code == 303, r.text
    page = b.get(r.headers["location"]).text
    assert page.count('<tr data-line="') == 3 and page.count('class="badge allocated line-status"') == 3
    assert 'id="cart-empty"' in b.get("/cart").text  # the cart was emptied
    zh = site.browser("zh")
    zh.cookies = b.cookies
    assert "订单行" in zh.get(r.headers["location"]).text
