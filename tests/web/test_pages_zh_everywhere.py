"""Every page in zh-CN (issue 17, item 9): a buyer, a factory and an operator with work in every state (an order
inspected against its features, an order a disruption moved, an RFQ) open each page a link of theirs leads to, plus
the pages only a button leads to (a quote, a claim, a disruption's notice, an RFQ) and the invoice and inspection
report. A page
fails when a text of the English catalog that Chinese has in other words shows through, or when four English words
in a row show (a timeline note, a catalog name, a site's English half) that are not a brand or model of the
catalog, nor what the test itself typed, nor a cited source."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

from pages_kit import Site, csrf_of

from fabgrid.services import accounts, disruptions, rfq
from fabgrid.web import i18n

#: Pages not crawled: documents, pictures, downloads and actions behind links.
_SKIP = re.compile(r"/lang/|/logout|\.pdf|\.png|\.3mf|/photos/|/docs|/redoc|/api/|/inspection-report$|/file\b|"
                   r"/openapi")
#: Pages of one kind are crawled this many times (a showroom booth per site is one kind).
_PER_KIND = 2
#: Typed by this test (names, the address, the exhibition) and shown back as typed.
_TYPED = ("Li Lei", "Lushan Road", "Changsha Lushan Road")


class _Visible(HTMLParser):
    """The text a reader sees (and reads aloud: titles, alternatives, placeholders) and the page's links; scripts,
    styles, citations and `translate="no"` are left out."""

    def __init__(self) -> None:
        super().__init__()
        self.skip: list[str] = []
        self.texts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "style", "cite", "code") or a.get("translate") == "no":
            self.skip.append(tag)
            return
        if self.skip:
            return
        if tag == "a" and a.get("href", "").startswith("/"):
            self.links.append(a["href"])
        self.texts += [a[k] for k in ("title", "placeholder", "alt", "aria-label") if a.get(k)]

    def handle_endtag(self, tag: str) -> None:
        if self.skip and self.skip[-1] == tag:
            self.skip.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(" ".join(data.split()))


def _english_fragments() -> list[str]:
    """Runs of English words of the catalog's messages (between their placeholders) that Chinese says otherwise."""
    en, zh = i18n.catalog("en"), i18n.catalog("zh")
    zh_text = "\n".join(zh.values())
    out = set()
    for key, text in en.items():
        if zh.get(key, text) == text:
            continue
        for part in re.split(r"\{[^}]*\}", text):
            part = part.strip(" .,:;()·-—")
            if len(part) >= 14 and len(re.findall(r"[A-Za-z]{2,}", part)) >= 3 and part not in zh_text:
                out.add(part)
    return sorted(out)


def _brands(site: Site) -> set[str]:
    """Words of the catalog's machine vendors and models: brands are not translated."""
    from fabgrid.services import catalog_read

    words: set[str] = set()
    for m in catalog_read.machine_models(site.settings):
        words |= set(re.findall(r"[A-Za-z][A-Za-z'-]*", f"{m.vendor} {m.model}"))
    return words


_RUN = re.compile(r"(?:[A-Za-z][a-z'-]+[ ,]+){3,}[A-Za-z][a-z'-]+")


def _crawl(b, starts: list[str]) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Every page reachable from `starts` by links (GET), at most `_PER_KIND` of each kind: url -> visible texts."""
    todo, seen, kinds, out = list(starts), set(), {}, {}
    while todo:
        url = todo.pop(0)
        if url in seen or _SKIP.search(url):
            continue
        seen.add(url)
        kind = re.sub(r"/[a-z]{2,4}_[0-9a-f]{8,}|/[a-z]+-[a-z]+-\d\d(-[a-z0-9]+)?|\d+", "/N", url.split("?")[0])
        if kinds.get(kind, 0) >= _PER_KIND and url not in starts:
            continue
        r = b.get(url)
        if r.status_code in (301, 302, 303, 307):
            todo.append(r.headers["location"])
            continue
        assert r.status_code == 200, (url, r.status_code, r.text[:500])
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        page = _Visible()
        page.feed(r.text)
        out[url] = page.texts
        todo += [u for u in page.links if u not in seen]
    return out


def test_no_english_shows_through_on_any_page_in_chinese(site: Site) -> None:
    s = site.settings
    buyer = site.browser("zh-CN")
    email = site.signup_buyer(buyer)
    inspected, site_a = site.ordered(buyer)
    moved, site_b = site.ordered(buyer)
    fac = site.browser("zh-CN")
    site.login(fac, site.account("factory", site_a))
    for status in ("in_production", "built"):
        r = fac.post(f"/factory/orders/{inspected}/status", data={"csrf_token": csrf_of(fac.get("/factory").text),
                                                                  "status": status})
        assert r.status_code == 303, r.text
    r = fac.post(f"/factory/orders/{inspected}/inspection", data={
        "csrf_token": csrf_of(fac.get("/factory").text), "passed": "yes", "inspected_qty": "2",
        "measurements": "length = 20.01 20.03 | 20 ± 0.1", "defects": ""})
    assert r.status_code == 303, r.text
    op_email = site.account("operator")
    operator = accounts.find_user(s.database_url, op_email)
    assert operator is not None
    start = datetime.now(UTC) + timedelta(days=1)
    if site_b == site_a:  # the second order's site is closed; the first, inspected, is not touched
        moved = inspected
    disruptions.declare(s, operator, "site", site_b, start=start, end=start + timedelta(days=5))
    who = accounts.find_user(s.database_url, email)
    assert who is not None
    part = buyer.get(f"/api/v1/orders/{inspected}").json()["lines"][0]["part_id"]
    shown = rfq.create_rfq(s, who, [rfq.PartWish(part_id=part, quantities=(10,), material="fdm_pla", process="fdm")],
                           need_by=date.today() + timedelta(days=30),
                           bid_deadline=datetime.now(UTC) + timedelta(hours=2), nda_required=False)
    quote = buyer.get(f"/api/v1/orders/{inspected}").json()["lines"][0]["quote_id"]
    op = site.browser("zh-CN")
    site.login(op, op_email)
    anonymous = site.browser("zh-CN")

    # the timeline: the English note with its key (the API), the page in Chinese
    events = buyer.get(f"/api/v1/orders/{inspected}").json()["timeline"]
    placed = next(e for e in events if e["note_key"] == "placed_one")
    assert placed["note"].startswith("at the quoted price") and placed["note_args"]["tier"] == "standard"
    page = buyer.get(f"/orders/{inspected}").text
    assert "按报价" in page and "检验合格（检验 2 件）" in page and "at the quoted price" not in page

    pages: dict[str, list[str]] = {}
    pages |= _crawl(anonymous, ["/", "/login", "/signup", "/join"])
    pages |= _crawl(buyer, ["/", "/parts", f"/quotes/{quote}", f"/orders/{inspected}", f"/orders/{moved}/disruption",
                            f"/orders/{inspected}/claims", f"/rfqs/{shown.rfq.id}"])
    pages |= _crawl(fac, ["/factory"])
    pages |= _crawl(op, ["/operator"])
    assert len(pages) >= 40, sorted(pages)
    # the documents a buyer downloads: the invoice and the inspection report (their HTML, which the PDFs print)
    for url in (f"/api/v1/orders/{inspected}/invoice?lang=zh-CN", f"/orders/{inspected}/inspection-report?lang=zh"):
        r = buyer.get(url)
        assert r.status_code == 200, (url, r.text[:300])
        doc = _Visible()
        doc.feed(r.text)
        pages[url] = doc.texts

    fragments = _english_fragments()
    assert len(fragments) > 100  # the check has something to find
    brands = _brands(site)
    leaks = []
    for url, texts in pages.items():
        body = "\n".join(texts)
        leaks += [f"{url}: catalog text {f!r}" for f in fragments if f in body]
        for t in texts:
            for run in _RUN.findall(t):
                words = re.findall(r"[A-Za-z][A-Za-z'-]*", run)
                if all(w in brands for w in words) or any(x in run for x in _TYPED):
                    continue
                leaks.append(f"{url}: English {run!r} in {t[:120]!r}")
    assert not leaks, "\n".join(sorted(set(leaks))[:60])
