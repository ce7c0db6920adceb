"""The quote page's one-part "Order" goes through the checkout like the cart (issue 17, item 7): address, tax
details, the consent choice and the review, and the cart is left as it was."""

from __future__ import annotations

import re
import time

from pages_kit import Site, box_stl, csrf_of

_HIDDEN = re.compile(r'<input type="hidden" name="(quote_id|site|tier)" value="([^"]*)"')


def _quoted(site: Site, b: object, dims: tuple[float, float, float], name: str) -> str:
    pid = site.upload(b, box_stl(*dims), name=name)["id"]  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    while b.get(f"/api/v1/parts/{pid}").json()["status"] != "ready":  # type: ignore[attr-defined]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page = b.get(f"/parts/{pid}")  # type: ignore[attr-defined]
    r = b.post(f"/parts/{pid}/quote", data={"csrf_token": csrf_of(page.text), "process": "fdm",  # type: ignore
                                             "material": "fdm_pla", "quantity": "3"})
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def test_order_button_goes_through_checkout(site: Site) -> None:
    b = site.browser()
    site.login(b, site.signup_buyer(b))
    in_cart, direct = _quoted(site, b, (20, 30, 10), "kept.stl"), _quoted(site, b, (30, 20, 12), "direct.stl")
    qpage = b.get(in_cart)
    sid = re.search(r'<article class="offer" data-site="([^"]+)"', qpage.text)
    assert sid
    r = b.post(in_cart + "/order", data={"csrf_token": csrf_of(qpage.text), "site": sid.group(1), "action": "cart"})
    assert r.headers["location"] == "/cart"

    qpage = b.get(direct)
    assert 'id="consent"' not in qpage.text  # the consent is the checkout's step now, not a box on the quote
    sid = re.search(r'<article class="offer" data-site="([^"]+)"', qpage.text)
    assert sid
    r = b.post(direct + "/order", data={"csrf_token": csrf_of(qpage.text), "site": sid.group(1),
                                        f"tier_{sid.group(1)}": "standard"})
    assert r.status_code == 303 and r.headers["location"].startswith("/checkout?quote_id=quo_"), r.text
    form = b.get(r.headers["location"])
    assert form.status_code == 200 and 'name="consent"' in form.text
    hidden = dict(_HIDDEN.findall(form.text))
    assert hidden == {"quote_id": direct.rsplit("/", 1)[1], "site": sid.group(1), "tier": "standard"}
    fields = {"csrf_token": csrf_of(form.text), "shipping_recipient": "Li Lei", "shipping_phone": "0731-88886666",
              "shipping_city": "Changsha", "shipping_street": "Lushan Road 932", "po_number": "PO-DIRECT-1", **hidden}
    missing = b.post("/checkout/review", data=fields)  # no consent choice: the form again, the offer kept
    assert missing.status_code == 422 and dict(_HIDDEN.findall(missing.text)) == hidden
    review = b.post("/checkout/review", data=fields | {"consent": "later"})
    assert review.status_code == 200 and review.text.count("<tr><td>1</td>") == 1  # one line: the quote's offer
    r = b.post("/checkout/place", data=fields | {"consent": "later"})
    assert r.status_code == 303 and r.headers["location"].startswith("/orders/ord_"), r.text
    order = b.get(r.headers["location"]).text
    assert "PO-DIRECT-1" in order and 'id="consent-form"' in order  # consent for later: given from the order page
    cart = b.get("/cart").text
    assert cart.count('<tr data-quote="') == 1 and in_cart.rsplit("/", 1)[1] in cart  # the cart is untouched

    other = site.browser()  # another organisation cannot order this organisation's quote through the checkout
    site.login(other, site.signup_buyer(other))
    page = other.get(f"/checkout?quote_id={in_cart.rsplit('/', 1)[1]}&site={sid.group(1)}")
    theirs = {"csrf_token": csrf_of(page.text), **{k: v for k, v in fields.items() if k != "csrf_token"},
              "quote_id": in_cart.rsplit("/", 1)[1], "consent": "yes"}
    assert other.post("/checkout/place", data=theirs).status_code == 404
    assert other.get(in_cart).status_code == 404
