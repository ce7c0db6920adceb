"""The printable invoice of an order: self-contained HTML (no scripts, no external assets), one row per line,
amounts in CNY, times in Asia/Shanghai as the UI shows them. Depends on `services.orders` only.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from fabgrid.config import Settings
from fabgrid.domain.order import OrderLine
from fabgrid.services.accounts import Principal
from fabgrid.services.orders import InvoiceData, invoice_data

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local(ts: datetime | None) -> str:
    if ts is None:
        return ""
    return ts.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M (Asia/Shanghai)")


def _inspection(ln: OrderLine) -> str:
    insp = ln.inspection
    if insp is None:
        return ""
    meas = ", ".join(f"{escape(str(k))} = {v}" for k, v in insp.measurements.items())
    return (f"<p>Line {ln.position}: {'passed' if insp.passed else 'failed'}, {insp.inspected_qty} inspected by "
            f"{escape(insp.by)} {escape(_local(insp.at))}. {escape(', '.join(insp.defects))} {meas}</p>")


def _row(d: InvoiceData, ln: OrderLine) -> str:
    site = d.sites.get(ln.site_id or "")
    made = f"{site.name} ({site.city}, {site.province})" if site else (ln.site_id or "")
    return (f"<tr><td>{ln.position}</td><td>{escape(d.parts.get(ln.part_id, ''))}</td><td>{escape(made)}</td>"
            f"<td>{escape(ln.process.value)}</td><td>{escape(ln.material)}</td><td>{escape(ln.tier)}</td>"
            f"<td class=\"num\">{ln.quantity}</td><td class=\"num\">{ln.unit_price_cny:.2f}</td>"
            f"<td class=\"num\">{ln.total_price_cny:.2f}</td><td>{ln.delivery_date.isoformat()}</td></tr>")


def invoice_html(settings: Settings, who: Principal, order_id: str) -> str:
    """The invoice of an order of the caller's organisation, as printable HTML."""
    d = invoice_data(settings, who, order_id)
    o = d.order
    lines = "".join(_row(d, ln) for ln in o.lines)
    inspections = "".join(_inspection(ln) for ln in o.lines)
    inspection = f"<h2>Inspection / 检验</h2>{inspections}" if inspections else ""
    rows = "".join(f"<tr><td>{escape(e.status.value)}</td><td>{escape(_local(e.at))}</td>"
                   f"<td>{escape(e.note)}</td></tr>" for e in o.events)
    quotes = ", ".join(escape(ln.quote_id) for ln in o.lines)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {escape(o.id)}</title>
<style>body{{font-family:sans-serif;max-width:56em;margin:2em auto}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ccc;padding:.3em;text-align:left}}.num{{text-align:right}}
@media print{{a{{display:none}}}}</style></head><body>
<h1>Invoice / 发票 {escape(o.id)}</h1>
<p>Issued by fabgrid for <strong>{escape(d.buyer)}</strong>, {escape(_local(o.created_at))}</p>
<p>Delivery to {escape(o.destination or '')} by {escape(o.delivery_date.isoformat() if o.delivery_date else '')}</p>
<table><tr><th>#</th><th>Part</th><th>Made at</th><th>Process</th><th>Material</th><th>Tier</th><th class="num">Qty</th>
<th class="num">Unit (CNY)</th><th class="num">Total (CNY)</th><th>Delivery</th></tr>
{lines}
<tr><th colspan="8">Total / 合计</th><th class="num">{o.total_price_cny:.2f}</th><th></th></tr></table>
<p>Quotes {quotes}. Status: {escape(o.status.value)}.</p>
{inspection}
<h2>Timeline</h2><table><tr><th>Status</th><th>When</th><th>Note</th></tr>{rows}</table>
</body></html>
"""
