"""The printable invoice of an order: self-contained HTML (no scripts, no external assets), amounts in
CNY, times in Asia/Shanghai as the UI shows them. Depends on `services.orders` only.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from fabgrid.config import Settings
from fabgrid.services.accounts import Principal
from fabgrid.services.orders import invoice_data

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local(ts: str | None) -> str:
    if not ts:
        return ""
    return datetime.fromisoformat(ts).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M (Asia/Shanghai)")


def invoice_html(settings: Settings, who: Principal, order_id: str) -> str:
    """The invoice of an order of the caller's organisation, as printable HTML."""
    d = invoice_data(settings, who, order_id)
    o = d["order"]
    site = d["site"] or {}
    insp = o.get("inspection") or {}
    inspection = ""
    if insp:
        meas = ", ".join(f"{escape(str(k))} = {v}" for k, v in insp.get("measurements", {}).items())
        inspection = (f"<h2>Inspection / 检验</h2><p>{'passed' if insp.get('passed') else 'failed'}, "
                      f"{insp.get('inspected_qty')} inspected by {escape(str(insp.get('by', '')))} "
                      f"{escape(_local(insp.get('at')))}. {escape(', '.join(insp.get('defects', [])))} {meas}</p>")
    rows = "".join(f"<tr><td>{escape(e['status'])}</td><td>{escape(_local(e['at']))}</td>"
                   f"<td>{escape(e['note'])}</td></tr>" for e in o["timeline"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {escape(o['id'])}</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ccc;padding:.3em;text-align:left}}.num{{text-align:right}}
@media print{{a{{display:none}}}}</style></head><body>
<h1>Invoice / 发票 {escape(o['id'])}</h1>
<p>Issued by fabgrid for <strong>{escape(d['buyer'])}</strong>, {escape(_local(o['created_at']))}</p>
<p>Made at {escape(site.get('name', ''))} ({escape(site.get('city', ''))}, {escape(site.get('province', ''))}),
delivery to {escape(o['destination'] or '')} by {escape(o['delivery_date'])}</p>
<table><tr><th>Part</th><th>Process</th><th>Material</th><th class="num">Qty</th><th class="num">Unit (CNY)</th>
<th class="num">Total (CNY)</th></tr>
<tr><td>{escape(d['part'])}</td><td>{escape(o['process'])}</td><td>{escape(o['material'])}</td>
<td class="num">{o['quantity']}</td><td class="num">{o['unit_price_cny']:.2f}</td>
<td class="num">{o['total_price_cny']:.2f}</td></tr></table>
<p>Tier: {escape(o['tier'])}. Quote {escape(o['quote_id'])}. Status: {escape(o['status'])}.</p>
{inspection}
<h2>Timeline</h2><table><tr><th>Status</th><th>When</th><th>Note</th></tr>{rows}</table>
</body></html>
"""
