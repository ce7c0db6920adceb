"""Buyer pages: parts (drag-and-drop upload, 3D view with DFM findings), quotes (offers side by side) and
orders (placing with design-sharing consent, the production timeline, invoice and inspection report).

Calls the use cases of services.parts, services.quotes_store and services.orders; never the store directly.
"""

from __future__ import annotations

import json
from datetime import date
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fabgrid.domain.catalog import local_name
from fabgrid.domain.order import Order, OrderLine
from fabgrid.domain.part_facts import DfmFinding
from fabgrid.errors import InputError
from fabgrid.services import (
    acceptance,
    checkout,
    claims,
    formats,
    network,
    orders,
    part_split,
    parts,
    pdf,
    quotes_store,
    web_photos,
)
from fabgrid.web import cart, i18n
from fabgrid.web.session import (
    PageRoute,
    checked_form,
    field,
    language,
    localized_problem,
    render,
    require,
    settings_of,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)
BUYER = ("buyer",)
#: Findings drawn in the viewer (each with at most this many face indices, to keep the page small).
VIEWER_FACES_PER_FINDING = 20_000


@router.get("/parts", response_class=HTMLResponse)
def parts_page(request: Request) -> HTMLResponse:
    """The organisation's parts and the upload drop zone."""
    who = require(request, *BUYER)
    rows = parts.list_parts(settings_of(request), who)
    return render(request, "parts.html", {"parts": rows, "accept": formats.ACCEPT,
                                          "formats_text": formats.in_words(language(request)),
                                          "max_mb": parts.MAX_FILE_BYTES // (1024 * 1024),
                                          **_catalog_choices(request)}, who=who)


def _catalog_choices(request: Request) -> dict[str, Any]:
    net = network.network_of(settings_of(request))
    cat = net.catalog
    return {
        "certificates": sorted({c for s in net.sites.values() for c in s.certifications}),
        "processes": [p for p in cat.processes.values()],
        "materials": sorted(cat.materials.values(), key=lambda m: (m.process.value, m.name)),
        "finishes": list(cat.finishes.values()),
    }


def _viewer_findings(findings: list[DfmFinding]) -> str:
    slim = [{"severity": f.severity.value, "face_indices": list(f.face_indices[:VIEWER_FACES_PER_FINDING]),
             "points_mm": [list(p) for p in f.points_mm[:200]]} for f in findings]
    return json.dumps(slim, separators=(",", ":"))


@router.get("/parts/{part_id}", response_class=HTMLResponse)
def part_page(request: Request, part_id: str) -> HTMLResponse:
    """A part: its facts, the 3D view with the findings, and the quote form."""
    who = require(request, *BUYER)
    part = parts.get_part(settings_of(request), who, part_id)
    order = {"error": 0, "warning": 1, "info": 2}
    findings = sorted(part.findings, key=lambda f: order.get(f.severity.value, 3))
    guess = next((f.code.removeprefix("units.maybe_") for f in findings if f.code.startswith("units.maybe_")), None)
    p = part.problem  # why the analysis failed, kept with the part: said like a form's problem
    problem = localized_problem(language(request), str(p.get("detail") or ""), p.get("hint"),
                                str(p.get("title") or "")) if p else None
    ctx = {"part": part, "problem": problem, "findings": findings, "viewer_findings": _viewer_findings(findings),
           "units": [u for u in parts.UNITS if u != "in"], "unit_guess": guess,
           "repairable": any(f.code in parts.REPAIRABLE_CODES for f in findings),
           "pending": part.analysing, "today": date.today().isoformat(),
           "split_max": part_split.MAX_BODIES, "split_min": part_split.MIN_BODY_TRIANGLES,
           **_catalog_choices(request)}
    return render(request, "part.html", ctx, who=who)


@router.post("/parts/{part_id}/units")
async def part_units(request: Request, part_id: str) -> Response:
    """The unit switch: read the part in the chosen unit and analyse it again."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    parts.change_units(settings_of(request), who, part_id, field(form, "units"))
    return RedirectResponse(f"/parts/{part_id}", status_code=303)


@router.post("/parts/{part_id}/repair")
async def part_repair(request: Request, part_id: str) -> Response:
    """Repair (where safe) and analyse the part again."""
    who = require(request, *BUYER)
    await checked_form(request)
    parts.analyse_again(settings_of(request), who, part_id)
    return RedirectResponse(f"/parts/{part_id}", status_code=303)


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{name} must be a whole number, not {value!r}", code="form.number") from None


@router.post("/parts/{part_id}/quote")
async def ask_quote(request: Request, part_id: str) -> Response:
    """Quote the part for the chosen material, process, finish and quantity; show the offers."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    need_by = field(form, "need_by")
    req = quotes_store.QuoteRequest(
        part_id=part_id, material=field(form, "material"), quantity=_int(field(form, "quantity", "1"), "quantity"),
        process=field(form, "process") or None, finish=field(form, "finish") or None,
        need_by=date.fromisoformat(need_by) if need_by else None, destination=field(form, "destination") or None,
        certifications=(field(form, "certificate"),) if field(form, "certificate") else ())
    quote, _ = quotes_store.create_quote(settings_of(request), who, req)
    return RedirectResponse(f"/quotes/{quote.id}", status_code=303)


def _site_names(request: Request) -> dict[str, str]:
    return network.site_names(settings_of(request))


#: How the quote page may sort its offers (the query's `sort`), each a key on (offer, site record).
QUOTE_SORTS = ("price", "delivery", "co2", "distance", "rating")


def _sort_key(sort: str) -> Any:
    if sort == "delivery":
        return lambda o, s: (o.delivery_date, o.unit_price_cny, o.site)
    if sort == "co2":
        return lambda o, s: (o.co2_kg, o.unit_price_cny, o.site)
    if sort == "distance":
        return lambda o, s: (o.distance_km if o.distance_km is not None else 0.0, o.unit_price_cny, o.site)
    if sort == "rating":
        return lambda o, s: (-(s.quality.rating if s else 0.0), o.unit_price_cny, o.site)
    return lambda o, s: (o.unit_price_cny, o.delivery_date, o.distance_km or 0.0, o.site)


@router.get("/quotes/{quote_id}", response_class=HTMLResponse)
def quote_page(request: Request, quote_id: str) -> HTMLResponse:
    """The offers of a quote side by side (price with and without VAT per part and in total, delivery, CO2,
    distance, the site's rating and certificates), sorted and filtered by the query (sort, max_days, certificate),
    the price-break table, and when nothing offers: what limits it, what could make it instead and an RFQ."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    q = quotes_store.get_quote(settings, who, quote_id)
    net = network.network_of(settings)
    sort = request.query_params.get("sort", "price")
    sort = sort if sort in QUOTE_SORTS else "price"
    cert = request.query_params.get("certificate", "").strip()
    raw_days = request.query_params.get("max_days", "").strip()
    max_days = int(raw_days) if raw_days.isdigit() else None
    all_offers = q.offers
    def kept(o: Any) -> bool:
        site = net.sites.get(o.site)
        if cert and (site is None or cert not in site.certifications):
            return False
        return max_days is None or o.lead_time_days <= max_days

    offers = [o for o in all_offers if kept(o)]
    key = _sort_key(sort)
    offers.sort(key=lambda o: key(o, net.sites.get(o.site)))
    best = {
        "price": min((o.total_price_cny for o in offers), default=None),
        "lead": min((o.lead_time_days for o in offers), default=None),
        "co2": min((o.co2_kg for o in offers), default=None),
    }
    certificates = sorted({c for o in all_offers if o.site in net.sites for c in net.sites[o.site].certifications})
    part = parts.get_part(settings, who, q.part_id)
    lang = language(request)
    return render(request, "quote.html", {"quote": q, "offers": offers, "all_count": len(all_offers), "best": best,
                                          "sites": _site_names(request), "site_records": net.sites, "part": part,
                                          "sort": sort, "sorts": QUOTE_SORTS, "certificate": cert,
                                          "certificates": certificates, "max_days": max_days,
                                          "vat_pct": q.quote.vat_pct, "breaks": q.quote.price_breaks,
                                          "unmakeable": q.quote.unmakeable,
                                          "material_names": {m.id: local_name(m, lang) for m in
                                                             net.catalog.materials.values()},
                                          "process_names": {p.value: local_name(v, lang) for p, v in
                                                            net.catalog.processes.items()},
                                          "model_names": {m.id: local_name(m, lang) for m in
                                                          net.catalog.machine_models.values()},
                                          "finish_names": {f.id: local_name(f, lang) for f in
                                                           net.catalog.finishes.values()}},
                  who=who)


@router.post("/quotes/{quote_id}/order")
async def place_order(request: Request, quote_id: str) -> Response:
    """Order the chosen offer and tier at the quoted price through the checkout (address, tax details, the
    design-sharing choice, review), or put it in the cart (`action=cart`) to order several parts at once."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    site = field(form, "site") or None
    # one form for all offers: each offer has its own speed (tier) select, named after its site
    tier = field(form, f"tier_{site}") or field(form, "tier") or None
    if field(form, "action") == "cart":
        quotes_store.get_quote(settings_of(request), who, quote_id)  # 404 for another organisation's quote
        items = [c for c in cart.read(request) if c.quote_id != quote_id]
        items.append(orders.LineRequest(quote_id, site, tier))
        resp = RedirectResponse("/cart", status_code=303)
        cart.write(request, resp, items)
        return resp
    # "Order": this one offer goes through the checkout (address, tax details, consent, review) like the cart
    quotes_store.get_quote(settings_of(request), who, quote_id)  # 404 for another organisation's quote
    query = urlencode({k: v for k, v in (("quote_id", quote_id), ("site", site), ("tier", tier)) if v})
    return RedirectResponse(f"/checkout?{query}", status_code=303)


@router.get("/cart", response_class=HTMLResponse)
def cart_page(request: Request) -> HTMLResponse:
    """The parts chosen for one order (each its quote, offer and tier), with the design-sharing consent."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    rows = []
    total = 0.0
    for item in cart.read(request):
        try:
            q = quotes_store.get_quote(settings, who, item.quote_id)
        except InputError:
            continue  # gone or not the caller's: not shown, dropped when the cart is next written
        offer = next((o for o in q.offers if o.site == item.site), None)
        tiers = {t.tier: t for t in (offer.tiers if offer is not None else [])}
        chosen = tiers.get(item.tier or "standard") or offer
        part = parts.get_part(settings, who, q.part_id)
        rows.append({"item": item, "quote": q, "offer": offer, "price": chosen, "part": part})
        total += chosen.total_price_cny if chosen is not None else 0.0
    return render(request, "cart.html", {"rows": rows, "total": total, "sites": _site_names(request)}, who=who)


@router.post("/cart/remove")
async def cart_remove(request: Request) -> Response:
    """Take one quote out of the cart."""
    require(request, *BUYER)
    form = await checked_form(request)
    resp = RedirectResponse("/cart", status_code=303)
    cart.write(request, resp, [c for c in cart.read(request) if c.quote_id != field(form, "quote_id")])
    return resp


@router.post("/cart/order")
async def cart_order(request: Request) -> Response:
    """Order every part in the cart as one order with one line each; the cart is emptied."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    items = cart.read(request)
    if not items:
        raise InputError("the cart is empty", hint="add offers to the cart from a quote page", code="cart.empty")
    o = orders.place_order(settings_of(request), who, items, consent_design_sharing=form.get("consent") == "yes")
    resp = RedirectResponse(f"/orders/{o.id}", status_code=303)
    cart.write(request, resp, [])
    return resp


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request) -> HTMLResponse:
    """The organisation's orders."""
    who = require(request, *BUYER)
    return render(request, "orders.html", {"orders": orders.list_orders(settings_of(request), who),
                                           "sites": _site_names(request)}, who=who)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, order_id: str) -> HTMLResponse:
    """An order through production: its lines with their sites and statuses, the progress of the order (its
    least advanced line), timeline (Asia/Shanghai), inspections, documents."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    o = orders.get_order(settings, who, order_id)
    reached = {e.status for e in o.events}
    steps = [{"status": s, "done": s in reached, "current": s == o.status} for s in orders.STATUSES]
    photos = web_photos.list_photos(settings, who, order_id)
    files = {ln.part_id: parts.get_part(settings, who, ln.part_id).filename for ln in o.lines}
    # the notice of changed dates: after a disruption, or while a proposed date waits for the buyer's answer
    notice = any(e.note.startswith("disruption ") for e in o.events) or any(
        p.status.value == "pending" for p in acceptance.acceptance_view(settings, who, order_id).proposals)
    return render(request, "order.html", {"notice": notice, "order": o, "steps": steps, "sites": _site_names(request),
                                          "photos": photos, "files": files,
                                          "refresh": o.status not in ("delivered", "cancelled"),
                                          "checkout": checkout.checkout_of(settings, who, order_id),
                                          "claims": claims.order_claims(settings, who, order_id)}, who=who)


@router.get("/orders/{order_id}/photos/{name}")
def order_photo(request: Request, order_id: str, name: str) -> Response:
    """A production photo of an order the caller may see (its buyer, the factory making it, operators)."""
    who = require(request)
    data = web_photos.photo_bytes(settings_of(request), who, order_id, name)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600",
                                                            "X-Content-Type-Options": "nosniff"})


@router.get("/orders/{order_id}/inspection-report")
def inspection_report(request: Request, order_id: str) -> Response:
    """The inspection report of an order as a self-contained HTML download (404 before the inspection)."""
    who = require(request, *BUYER)
    o = orders.get_order(settings_of(request), who, order_id)
    if not any(ln.inspection for ln in o.lines):
        raise InputError(f"order {order_id} has no inspection result yet", code="order.no_inspection", status=404)
    html = inspection_html(o, language(request))
    return Response(html, media_type="text/html; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="inspection-{order_id}.html"',
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'", "Cache-Control": "no-store"})


@router.get("/orders/{order_id}/inspection-report.pdf")
def inspection_report_pdf(request: Request, order_id: str) -> Response:
    """The inspection report as a PDF in the page's language (or `?lang=zh|en`), CJK font embedded."""
    who = require(request, *BUYER)
    o = orders.get_order(settings_of(request), who, order_id)
    if not any(ln.inspection for ln in o.lines):
        raise InputError(f"order {order_id} has no inspection result yet", code="order.no_inspection", status=404)
    lang = {"zh": "zh", "zh-CN": "zh", "en": "en"}.get(request.query_params.get("lang", ""), language(request))
    return Response(pdf.html_to_pdf(inspection_html(o, lang)), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="inspection-{order_id}.pdf"', "Cache-Control": "no-store"})


def _inspection_section(ln: OrderLine, t: Any) -> str:
    ins = ln.inspection
    if ins is None:
        return ""
    meas = "".join(f"<tr><td>{escape(str(k))}</td><td class=num>{float(v):.3f}</td></tr>"
                   for k, v in sorted(ins.measurements.items()))
    defects = "".join(f"<li>{escape(str(d))}</li>" for d in ins.defects) or f"<li>{t('insp.none')}</li>"
    verdict = t("insp.passed") if ins.passed else t("insp.failed")
    def lim(v: float | None) -> str:
        return "" if v is None else f"{v:.3f}"

    feats = "".join(
        f"<tr><td>{escape(f.name)}</td><td class=num>{f.nominal_mm:.3f}</td>"
        f"<td class=num>{lim(f.lsl_mm)} … {lim(f.usl_mm)}</td>"
        f"<td class=num>{escape(' '.join(f'{v:.3f}' for v in f.values))}</td>"
        f"<td>{t('insp.in_tol') if f.passed else t('insp.out_of_tol', n=f.out_of_tolerance)}</td></tr>"
        for f in ins.features)
    features = (f"<h3>{t('insp.features')}</h3><table><tr><th>{t('insp.feature')}</th><th>{t('insp.nominal')}</th>"
                f"<th>{t('insp.limits')}</th><th>{t('insp.values')}</th><th>{t('insp.verdict')}</th></tr>{feats}"
                "</table>") if ins.features else ""
    made = t("insp.genealogy", build=escape(ins.build_id or "—"), machine=escape(ins.machine_id or "—"),
             lot=escape(ins.material_lot or "—"), operator=escape(ins.build_operator or "—"))
    origin = f"<p>{made}</p>" if ins.build_id or ins.material_lot else ""
    return f"""<section><h2>#{ln.position} · {escape(ln.part_id)}</h2>
<p><strong>{verdict}</strong> · {t('insp.qty')}: {ins.inspected_qty} / {ln.quantity}</p>
<p>{t('field.site')}: {escape(str(ln.site_id or ''))} · {t('field.process')}: {escape(ln.process.value)} ·
{t('field.material')}: {escape(ln.material)}</p>
<p>{t('insp.by')}: {escape(ins.by)} · {escape(i18n.local_time(ins.at))} (Asia/Shanghai)</p>
{origin}<h3>{t('insp.defects')}</h3><ul>{defects}</ul>{features}
<h3>{t('insp.measurements')}</h3><table><tr><th>{t('insp.feature')}</th><th>{t('insp.value')}</th></tr>{meas}</table>
<p>{escape(ins.note)}</p></section>"""


def inspection_html(order: Order, lang: str) -> str:
    """A printable inspection report: per inspected line the result, quantities, the build, machine and material
    lot, defects, measurements and the features against their tolerances, in `lang`."""
    def t(key: str, **kw: object) -> str:
        return escape(i18n.translate(lang, key, **kw))

    sections = "".join(_inspection_section(ln, t) for ln in order.lines)
    return f"""<!doctype html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{t('insp.report')} {escape(order.id)}</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ccc;padding:.3em .8em;text-align:left}}
.num{{text-align:right}}</style></head><body>
<h1>{t('insp.report')} · {escape(order.id)}</h1>
{sections}</body></html>
"""
