"""The invoice of an order, as printable HTML and as a PDF in zh-CN or en (the user's language) with the CJK font
embedded: seller and buyer legal entities with their unified social credit codes, one row per line with its
finish, tier and factory, VAT at the quoted rate shown separately (rate and source from costing.yaml), amounts
in Decimal to the cent so that the totals add up (20 x 35.15 = 703.00), and the fapiao fields a Chinese buyer's
accounts need (data/invoicing.yaml: item category, unit, 价税合计大写).

Depends on services.orders (the order, its parts and sites), services.checkout (tax details, address, PO
number) and the costing rates; renders with WeasyPrint through services.pdf (fonts from fontconfig: Debian's
fonts-noto-cjk).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from fabgrid.config import Settings
from fabgrid.domain.catalog import local_name
from fabgrid.domain.checkout import Checkout
from fabgrid.domain.order import OrderEvent, OrderLine, OrderStatus
from fabgrid.errors import InputError
from fabgrid.services import timeline as timeline_texts
from fabgrid.services.accounts import Principal
from fabgrid.services.orders import InvoiceData, invoice_data

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGS = ("zh-CN", "en")
CENT = Decimal("0.01")


@functools.cache
def invoicing() -> dict[str, Any]:
    """data/invoicing.yaml: the seller, the item category, the unit and the texts per language."""
    from fabgrid.data import load_document

    return load_document("invoicing.yaml")


def _vat() -> tuple[Decimal, str]:
    from fabgrid.costing.rates import load_rates

    rates = load_rates()
    if rates.vat_pct is None:
        raise InputError("the costing data has no VAT rate", hint="add the `vat` section to costing.yaml",
                         code="invoice.vat_missing", status=500)
    return Decimal(str(rates.vat_pct)), rates.vat_source


def cents(value: float | Decimal) -> Decimal:
    """An amount to the cent (half up), from its decimal text: a float's 35.15 stays 35.15."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL = ("", "拾", "佰", "仟")
_BIG = ("", "万", "亿", "万亿")


def _yuan_upper(n: int) -> str:
    """A whole number of yuan in capitals (groups of four digits with 万 and 亿, one 零 for a run of zeros)."""
    digits = str(n)
    out, zero = "", False
    for i, ch in enumerate(digits):
        d, p = int(ch), len(digits) - 1 - i
        if d == 0:
            zero = True
            if p % 4 == 0 and p > 0 and int(digits[max(0, i - 3):i + 1]):
                out += _BIG[p // 4]
            continue
        if zero and out:
            out += "零"
        zero = False
        out += _DIGITS[d] + _SMALL[p % 4] + (_BIG[p // 4] if p % 4 == 0 and p > 0 else "")
    return out


def rmb_upper(amount: Decimal) -> str:
    """An amount in CNY in Chinese capital numerals, as 价税合计（大写）: 703.00 -> 柒佰零叁元整, 1005.20 ->
    壹仟零伍元贰角, 120000.07 -> 壹拾贰万元零柒分."""
    amount = amount.quantize(CENT)
    if amount < 0:
        return "负" + rmb_upper(-amount)
    yuan, frac = divmod(int(amount * 100), 100)
    jiao, fen = divmod(frac, 10)
    text = _yuan_upper(yuan) + "元" if yuan else ""
    if not jiao and not fen:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    return text + (_DIGITS[fen] + "分" if fen else "")


@dataclass(frozen=True)
class InvoiceLine:
    """One invoiced line: what, where it was made, quantity, unit price, amount, VAT rate and VAT (Decimal)."""

    line: OrderLine
    item: str
    made_at: str
    finish: str | None
    unit_price: Decimal
    amount: Decimal
    rate_pct: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Invoice:
    """An invoice: the order's data, seller and buyer, its lines and totals (net + VAT = gross, to the cent)."""

    number: str
    issued_at: datetime
    data: InvoiceData
    checkout: Checkout | None
    seller: dict[str, str]
    buyer: dict[str, str]
    lines: list[InvoiceLine]
    net: Decimal
    tax: Decimal
    gross: Decimal
    vat_source: str
    kind: str


def _finish_names() -> dict[str, str]:
    from fabgrid.data import load_catalog

    return {f.id: f.name for f in load_catalog().finishes.values()}


def build(settings: Settings, who: Principal, order_id: str, issued_at: datetime | None = None) -> Invoice:
    """The invoice of an order of the caller's organisation (operators: any). Cancelled lines are left out; a
    line's VAT is its amount x the rate, rounded to the cent, and the totals are the sums of the rows."""
    from fabgrid.services import checkout

    d = invoice_data(settings, who, order_id)
    co = checkout.checkout_of(settings, who, order_id)
    rate, source = _vat()
    doc = invoicing()
    names = _finish_names()
    rows: list[InvoiceLine] = []
    for ln in d.order.lines:
        if ln.status is OrderStatus.CANCELLED:
            continue
        unit = cents(ln.unit_price_cny)
        amount = (unit * ln.quantity).quantize(CENT)
        site = d.sites.get(ln.site_id or "")
        made = f"{site.name} ({site.city})" if site else (ln.site_id or "")
        item = f"*{doc['item_category']}*{d.parts.get(ln.part_id) or ln.part_id}"
        rows.append(InvoiceLine(line=ln, item=item, made_at=made, finish=names.get(ln.finish or "", ln.finish),
                                unit_price=unit, amount=amount, rate_pct=rate,
                                tax=(amount * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)))
    net = sum((r.amount for r in rows), Decimal("0.00"))
    tax = sum((r.tax for r in rows), Decimal("0.00"))
    if co is not None and co.tax is not None:
        buyer = {"legal_name": co.tax.company_name, "credit_code": co.tax.credit_code,
                 "address_phone": " ".join(p for p in (co.tax.address, co.tax.phone) if p),
                 "bank": " ".join(p for p in (co.tax.bank_name, co.tax.bank_account) if p)}
        kind = co.tax.kind.value
    else:
        buyer = {"legal_name": d.buyer, "credit_code": "", "address_phone": "", "bank": ""}
        kind = "vat_normal"
    s = doc["seller"]
    seller = {"legal_name": str(s["legal_name"]), "credit_code": str(s["credit_code"]),
              "address_phone": f"{s['address']} {s['phone']}", "bank": f"{s['bank_name']} {s['bank_account']}"}
    return Invoice(number=f"INV-{d.order.id.removeprefix('ord_')}", issued_at=issued_at or d.order.created_at,
                   data=d, checkout=co, seller=seller, buyer=buyer, lines=rows, net=net, tax=tax, gross=net + tax,
                   vat_source=source, kind=kind)


def _local(ts: datetime | None) -> str:
    if ts is None:
        return ""
    return ts.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M (Asia/Shanghai)")


def _lang(lang: str) -> str:
    key = {"zh": "zh-CN", "zh-cn": "zh-CN", "en": "en"}.get(lang.lower(), lang)
    if key not in LANGS:
        raise InputError(f"lang {lang!r} is not one of {', '.join(LANGS)}", code="invoice.lang")
    return key


def _inspection(ln: OrderLine, t: dict[str, Any]) -> str:
    insp = ln.inspection
    if insp is None:
        return ""
    meas = ", ".join(f"{escape(str(k))} = {v}" for k, v in insp.measurements.items())
    said = str(t["inspected"]).format(result=t["passed"] if insp.passed else t["failed"], qty=insp.inspected_qty,
                                      by=insp.by, at=_local(insp.at))
    return (f"<p>{escape(str(t['line']).format(n=ln.position))}: {escape(said)} "
            f"{escape(', '.join(insp.defects))} {meas}</p>")


def _names(inv: Invoice, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """(line id -> where it is made, finish id -> name) in `lang`: the site's name and city, the finish's name."""
    from fabgrid.data import load_catalog
    from fabgrid.network.geo import load_logistics

    cities = {c.name: c.name_zh for c in load_logistics().cities.values() if c.name_zh}
    made = {}
    for ln in inv.data.order.lines:
        site = inv.data.sites.get(ln.site_id or "")
        city = (cities.get(site.city, site.city) if lang == "zh-CN" else site.city) if site else ""
        made[ln.id] = f"{local_name(site, lang)} ({city})" if site else (ln.site_id or "")
    finishes = {f.id: local_name(f, lang) for f in load_catalog().finishes.values()}
    return made, finishes


def render_html(inv: Invoice, lang: str = "en") -> str:
    """The invoice as self-contained HTML in `lang` (zh-CN or en): no scripts, no external assets."""
    lang = _lang(lang)
    t = invoicing()["texts"][lang]
    unit = invoicing()["unit"][lang]
    e = escape
    o = inv.data.order

    def party(label: str, p: dict[str, str]) -> str:
        return (f"<table class=party><tr><th colspan=2>{e(label)}</th></tr>"
                f"<tr><td>{e(t['legal_name'])}</td><td>{e(p['legal_name'])}</td></tr>"
                f"<tr><td>{e(t['credit_code'])}</td><td>{e(p['credit_code'] or '—')}</td></tr>"
                f"<tr><td>{e(t['address_phone'])}</td><td>{e(p['address_phone'] or '—')}</td></tr>"
                f"<tr><td>{e(t['bank'])}</td><td>{e(p['bank'] or '—')}</td></tr></table>")

    made, finishes = _names(inv, lang)
    rows = "".join(
        f"<tr><td>{r.line.position}</td><td>{e(r.item)}<br><small>{e(t['made_at'])}: "
        f"{e(made.get(r.line.id, r.made_at))} · {e(t['finish'])}: "
        f"{e(finishes.get(r.line.finish or '', r.finish or '') or t['no_finish'])} · {e(t['tier'])}: "
        f"{e(t['tiers'].get(r.line.tier, r.line.tier))}</small></td>"
        f"<td>{e(r.line.process.value)} / {e(r.line.material)}</td><td>{e(unit)}</td>"
        f"<td class=n>{r.line.quantity}</td><td class=n>{r.unit_price}</td><td class=n>{r.amount}</td>"
        f"<td class=n>{r.rate_pct.normalize():f}%</td><td class=n>{r.tax}</td></tr>" for r in inv.lines)
    co = inv.checkout
    notes = [f"{t['order']} {o.id}", *(f"{t['quote']} {ln.quote_id}" for ln in o.lines)]
    if co is not None and co.po_number:
        notes.insert(1, f"{t['po_number']} {co.po_number}")
    if co is not None:
        notes.append(f"{t['shipping']}: {co.shipping.recipient} {co.shipping.phone} {co.shipping.one_line()}")
    if any(ln.status is OrderStatus.CANCELLED for ln in o.lines):
        notes.append(t["cancelled"])
    inspections = "".join(_inspection(ln, t) for ln in o.lines)
    site_names = {sid: local_name(s, lang) for sid, s in inv.data.sites.items()}

    def said(ev: OrderEvent) -> str:
        return (timeline_texts.text(ev.note_key, ev.note_args, lang, lambda x: site_names.get(x, x))
                if ev.note_key else "") or ev.note

    timeline = "".join(f"<tr><td>{e(t['statuses'].get(ev.status.value, ev.status.value))}</td>"
                       f"<td>{e(_local(ev.at))}</td><td>{e(said(ev))}</td></tr>" for ev in o.events)
    delivery = o.delivery_date.isoformat() if o.delivery_date else ""
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{e(t['title'])} {e(inv.number)}</title>
<style>@page{{size:A4;margin:14mm}}body{{font-family:"Noto Sans CJK SC","Noto Sans CJK",sans-serif;font-size:9pt;
max-width:60em;margin:auto}}table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:2pt 4pt;
text-align:left;vertical-align:top}}.n{{text-align:right}}.parties{{display:flex;gap:8pt}}.party{{width:50%}}
small{{color:#444}}h1{{font-size:15pt;margin:0}}@media print{{a{{display:none}}}}</style></head><body>
<h1>{e(t['title'])} · {e(inv.number)}</h1>
<p>{e(t['subtitle'])}</p>
<p>{e(t['number'])}: {e(inv.number)} · {e(t['issued'])}: {e(_local(inv.issued_at))} · {e(t['kind'])}:
{e(t[inv.kind])} · {e(t['delivery'])}: {e(o.destination or '')} {e(delivery)}</p>
<div class=parties>{party(t['buyer'], inv.buyer)}{party(t['seller'], inv.seller)}</div>
<table id=lines><tr><th>#</th><th>{e(t['item'])}</th><th>{e(t['spec'])}</th><th>{e(t['unit'])}</th>
<th class=n>{e(t['quantity'])}</th><th class=n>{e(t['unit_price'])}</th><th class=n>{e(t['amount'])}</th>
<th class=n>{e(t['rate'])}</th><th class=n>{e(t['tax'])}</th></tr>
{rows}
<tr><th colspan=6>{e(t['total'])}</th><th class=n id=net>¥{inv.net}</th><th></th><th class=n id=tax>¥{inv.tax}</th></tr>
<tr><th colspan=3>{e(t['gross_words'])}</th><td colspan=3>{e(rmb_upper(inv.gross))}</td>
<th>{e(t['gross'])}</th><td colspan=2 class=n id=gross>¥{inv.gross}</td></tr></table>
<p><b>{e(t['notes'])}</b>: {e('; '.join(notes))}</p>
<p><small>{e(t['vat_source'])}: <cite>{e(t.get('vat_source_text') or inv.vat_source)}</cite></small></p>
{f"<h2>{e(t['inspection'])}</h2>{inspections}" if inspections else ""}
<h2>{e(t['timeline'])}</h2><table><tr><th>Status</th><th>{e(t['issued'])}</th><th>{e(t['notes'])}</th></tr>{timeline}</table>
</body></html>
"""


def invoice_html(settings: Settings, who: Principal, order_id: str, lang: str = "en") -> str:
    """The invoice of an order of the caller's organisation, as printable HTML in `lang`."""
    return render_html(build(settings, who, order_id), lang)


def invoice_pdf(settings: Settings, who: Principal, order_id: str, lang: str = "zh-CN") -> bytes:
    """The invoice as a PDF in `lang` (zh-CN or en), the CJK font subset embedded (`services.pdf`)."""
    from fabgrid.services.pdf import html_to_pdf

    return html_to_pdf(invoice_html(settings, who, order_id, lang))
