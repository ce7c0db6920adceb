"""The JSON shapes of the API's resources, made from the services' typed records (orders, disruptions), with
their links. The only place that turns an order into JSON.

Depends on the domain records and services' result types; never on the store or the engines.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fabgrid.domain.order import Order, OrderLine
from fabgrid.services.orders import DisruptionInfo

#: Fields a one-line order also carries at the top level, as orders had before they had lines.
_LINE_FIELDS = ("quote_id", "part_id", "site_id", "offer_site_id", "process", "material", "quantity", "tier",
                "unit_price_cny", "lead_time_days", "inspection")


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def line_doc(ln: OrderLine) -> dict[str, Any]:
    """One order line."""
    doc: dict[str, Any] = ln.model_dump(mode="json")
    doc["currency"] = "CNY"
    doc["links"] = {"quote": f"/api/v1/quotes/{ln.quote_id}", "part": f"/api/v1/parts/{ln.part_id}"}
    return doc


def order_doc(o: Order) -> dict[str, Any]:
    """The order resource: header, lines (each with its site and status), timeline (UTC) and links. A one-line
    order also carries its line's fields at the top level (the single-part shape of earlier clients)."""
    lines = [line_doc(ln) for ln in o.lines]
    doc: dict[str, Any] = {
        "id": o.id, "status": o.status.value, "destination": o.destination,
        "consent_design_sharing": o.consent_design_sharing, "created_at": _iso(o.created_at),
        "total_price_cny": o.total_price_cny, "currency": "CNY", "delivery_date": _iso(o.delivery_date),
        "lead_time_days": max((ln.lead_time_days for ln in o.lines), default=None),
        "lines": lines,
        "timeline": [{"status": e.status.value, "at": _iso(e.at), "site_id": e.site_id, "line_id": e.line_id,
                      "note": e.note} for e in o.events],
        "links": {"self": f"/api/v1/orders/{o.id}", "invoice": f"/api/v1/orders/{o.id}/invoice"},
    }
    if len(lines) == 1:
        doc.update({k: lines[0][k] for k in _LINE_FIELDS})
        doc["links"].update(lines[0]["links"])
    else:
        sites = {ln.site_id for ln in o.lines}
        doc.update({k: None for k in _LINE_FIELDS})
        doc["site_id"] = sites.pop() if len(sites) == 1 else None
    return doc


def disruption_doc(d: DisruptionInfo) -> dict[str, Any]:
    """The disruption resource (with its reroute job when just declared)."""
    doc: dict[str, Any] = {"id": d.id, "site_id": d.site_id, "days": d.days, "created_at": _iso(d.created_at),
                           "until": _iso(d.until), "report": d.report, "job_id": d.job_id}
    if d.job is not None:
        doc["job"] = d.job
    return doc
