"""The part list on the parts page (issue 17, item 5): the ticked parts, each with its quantity, quoted at once,
shown with each part's cheapest offer and put in the cart together, one line each; nothing ticked is a 4xx page."""

from __future__ import annotations

import re
import time

from pages_kit import Site, box_stl, csrf_of


def test_part_list_to_cart(site: Site) -> None:
    b = site.browser()
    site.login(b, site.signup_buyer(b))
    ids = [site.upload(b, box_stl(*dims), name=f"list{i}.stl")["id"]
           for i, dims in enumerate([(20, 30, 10), (40, 15, 12), (25, 25, 25)])]
    deadline = time.monotonic() + 60
    while any(b.get(f"/api/v1/parts/{pid}").json()["status"] != "ready" for pid in ids):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page = b.get("/parts")
    assert page.text.count('name="pick"') == 3 and 'id="partlist-form"' in page.text
    token = csrf_of(page.text)
    nothing = b.post("/parts/quote-list", data={"csrf_token": token, "material": "fdm_pla"})
    assert nothing.status_code == 422
    form = {"csrf_token": token, "material": "fdm_pla", "process": "fdm", "pick": [ids[0], ids[2]],
            f"qty_{ids[0]}": "4", f"qty_{ids[2]}": "9", f"qty_{ids[1]}": "2"}
    r = b.post("/parts/quote-list", data=form)
    assert r.status_code == 200, r.text
    rows = re.findall(r'<tr data-part="([^"]+)" data-quoted="(yes|no)"><td>\d+</td><td><a [^>]+>([^<]+)</a></td>'
                      r'<td>(\d+)</td>', r.text)
    assert [(p, q, n) for p, q, _, n in rows] == [(ids[0], "yes", "4"), (ids[2], "yes", "9")]
    lines = re.findall(r'<input type="hidden" name="line" value="([^"]+)">', r.text)
    r = b.post("/parts/quote-list/cart", data={"csrf_token": csrf_of(r.text), "line": lines})
    assert r.status_code == 303 and r.headers["location"] == "/cart"
    cart = b.get("/cart").text
    assert cart.count('<tr data-quote="') == 2 and "list0.stl" in cart and "list2.stl" in cart
    zh = site.browser("zh")
    zh.cookies = b.cookies
    assert "零件清单" in zh.get("/parts").text or "为勾选的零件报价" in zh.get("/parts").text
