"""The JSON shapes of the API's resources, made from the services' typed records (orders, disruptions), with
their links. The only place that turns an order into JSON.

Depends on the domain records and services' result types; never on the store or the engines.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from fabgrid.domain.acceptance import DateProposal, FactoryResponse
from fabgrid.domain.dispatch import MachineConnection, PlannedBuild
from fabgrid.domain.factory import FactoryApplication, FactoryDocument, FactoryEvent
from fabgrid.domain.order import Order, OrderLine
from fabgrid.domain.records import DesignAccess, Job, StoredPart, Webhook, WebhookDelivery
from fabgrid.services.acceptance import AcceptanceView
from fabgrid.services.factories import SiteProfile
from fabgrid.services.quotes_store import StoredQuote
from fabgrid.services.storefront import StorefrontView

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
                      "note": e.note, "note_key": e.note_key, "note_args": e.note_args} for e in o.events],
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


# ---------------------------------------------------------------------------- factories (issue 18)


def application_doc(a: FactoryApplication) -> dict[str, Any]:
    """A factory's application to join, with the operator's decision."""
    doc: dict[str, Any] = a.model_dump(mode="json")
    doc["links"] = {"self": f"/api/v1/factories/applications/{a.id}"}
    if a.site_id:
        doc["links"]["site"] = f"/api/v1/sites/{a.site_id}"
    return doc


def _versioned(v: StorefrontView, doc: dict[str, Any]) -> dict[str, Any]:
    return {"site_id": v.site.id, "version": v.version, "rate_version": v.storefront.rate_version,
            "updated_at": _iso(v.storefront.updated_at), **doc}


def storefront_machines_doc(v: StorefrontView) -> dict[str, Any]:
    """The site's machines, each with its model's process and build volume."""
    names = v.storefront.machine_names
    return _versioned(v, {"machines": [
        {"id": m.id, "model": m.model, "name": names.get(m.id), "process": v.machine_models[m.model].process.value,
         "build_volume_mm": list(v.machine_models[m.model].build_volume_mm),
         "custom": m.model.startswith("custom-")} for m in v.site.machines]})


def storefront_materials_doc(v: StorefrontView) -> dict[str, Any]:
    """The materials in stock with their lots, and the ones offered (stock above 0)."""
    return _versioned(v, {"materials": [s.model_dump(mode="json") for s in v.storefront.stock],
                          "offered": list(v.site.materials)})


def storefront_rates_doc(v: StorefrontView) -> dict[str, Any]:
    """The site's rates."""
    return _versioned(v, {"machine_hour_cny": dict(v.site.machine_rates_cny_per_h),
                          "material_markup": v.site.material_markup, "minimum_order_cny": v.site.minimum_order_cny,
                          "finishes": dict(v.storefront.finishes_cny), "currency": "CNY"})


def storefront_calendar_doc(v: StorefrontView) -> dict[str, Any]:
    """The site's shifts, workdays, its own closed periods, and every holiday it keeps (national ones too)."""
    cal = v.site.calendar
    return _versioned(v, {"shifts": [s.model_dump(mode="json") for s in cal.shifts], "workdays": list(cal.workdays),
                          "entries": [e.model_dump(mode="json") for e in v.storefront.entries],
                          "holidays": [d.isoformat() for d in cal.holidays]})


def storefront_capacity_doc(v: StorefrontView) -> dict[str, Any]:
    """Whether the site takes new work."""
    return _versioned(v, {"at_capacity": v.site.at_capacity, "max_queue_h": v.site.max_queue_h})


def storefront_regions_doc(v: StorefrontView) -> dict[str, Any]:
    """The provinces the site ships to (empty: every destination)."""
    return _versioned(v, {"provinces": list(v.site.ships_to)})


def site_profile_doc(p: SiteProfile, machine_process: dict[str, str] | None = None) -> dict[str, Any]:
    """A site of the network with its standing (verified, probation), certificates with expiry, processes and,
    for one site, its scorecard."""
    doc: dict[str, Any] = p.site.model_dump(mode="json")
    if machine_process is not None:
        doc["machines"] = [{"id": m.id, "model": m.model, "process": machine_process.get(m.model)}
                           for m in p.site.machines]
    doc["processes"] = [x.value for x in p.processes]
    doc["verified"] = p.verified
    doc["status"] = p.storefront.status.value
    doc["at_capacity"] = p.site.at_capacity
    doc["certificates"] = [c.model_dump(mode="json") for c in p.storefront.certificates]
    if p.scorecard is not None:
        doc["scorecard"] = asdict(p.scorecard)
    doc["links"] = {"self": f"/api/v1/sites/{p.site.id}", "showroom": f"/showroom/{p.site.id}"}
    return doc


def factory_event_doc(e: FactoryEvent) -> dict[str, Any]:
    """One entry of the factories' audit log."""
    return {"kind": e.kind, "at": _iso(e.at), "actor_user_id": e.actor_user_id, "reason": e.reason,
            "version": e.version, "application_id": e.application_id, "site_id": e.site_id}


# ------------------------------------------------------------------ dispatch to printers (issue 20)


def build_doc(b: PlannedBuild) -> dict[str, Any]:
    """A build: machine, material, parts with their order lines, status and links (no file paths)."""
    doc = b.model_dump(mode="json", exclude={"model_file", "picture"})
    doc["copies"] = b.copies
    doc["links"] = {"self": f"/api/v1/factory/builds/{b.id}", "dispatch": f"/api/v1/factory/builds/{b.id}/dispatch",
                    "events": f"/api/v1/factory/builds/{b.id}/events", "lock": f"/api/v1/factory/builds/{b.id}/lock",
                    "split": f"/api/v1/factory/builds/{b.id}/split"}
    if b.model_file:
        doc["links"]["3mf"] = f"/api/v1/factory/builds/{b.id}/file.3mf"
    if b.picture:
        doc["links"]["picture"] = f"/api/v1/factory/builds/{b.id}/picture.png"
    return doc


def machine_doc(m: Any) -> dict[str, Any]:
    """A machine of the site (`services.machine_pages.MachineView`): data source, state and 24 h figures."""
    doc: dict[str, Any] = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in vars(m).items()}
    doc["source"] = str(m.source)
    doc["links"] = {"mark": f"/api/v1/factory/machines/{m.id}/mark",
                    "connection": f"/api/v1/factory/machines/{m.id}/connection"}
    return doc


def connection_doc(c: MachineConnection) -> dict[str, Any]:
    """A machine's link to its print host (never its keys)."""
    doc = c.model_dump(mode="json")
    doc["links"] = {"self": f"/api/v1/factory/machines/{c.machine_id}/connection"}
    return doc


def quote_doc(q: StoredQuote) -> dict[str, Any]:
    """The quote resource: the request it was priced for, the offers and rejections, its validity and links."""
    return {"id": q.id, "part_id": q.part_id, "input_hash": q.input_hash, "request": q.request,
            "created_at": _iso(q.created_at), "expires_at": _iso(q.expires_at), "expired": q.expired,
            "offers": [o.model_dump(mode="json") for o in q.quote.offers],
            "rejected": [r.model_dump(mode="json") for r in q.quote.rejected], "currency": "CNY",
            "vat_pct": q.quote.vat_pct, "price_breaks": [b.model_dump(mode="json") for b in q.quote.price_breaks],
            "unmakeable": q.quote.unmakeable.model_dump(mode="json") if q.quote.unmakeable else None,
            "rfq_suggested": bool(q.quote.unmakeable and q.quote.unmakeable.rfq_suggested),
            "links": {"self": f"/api/v1/quotes/{q.id}", "part": f"/api/v1/parts/{q.part_id}",
                      "order": "/api/v1/orders"} | ({"rfq": "/api/v1/rfqs"} if q.quote.unmakeable else {})}


def document_doc(d: FactoryDocument) -> dict[str, Any]:
    """An application's document (metadata and its download link)."""
    doc: dict[str, Any] = d.model_dump(mode="json")
    doc["links"] = {"self": f"/api/v1/factories/applications/{d.application_id}/documents/{d.id}"}
    return doc


# ------------------------------------------------------------------ factories answer their work (issue 18, item 4)


def proposal_doc(p: DateProposal) -> dict[str, Any]:
    """A factory's proposed delivery date, the buyer's decision and where to give it."""
    doc: dict[str, Any] = p.model_dump(mode="json")
    doc["keepable"] = p.keepable  # false: a date from a disruption or a decline, to accept or cancel the line
    base = f"/api/v1/orders/{p.order_id}/date-proposals/{p.id}"
    doc["links"] = {"order": f"/api/v1/orders/{p.order_id}", "accept": f"{base}/accept", "reject": f"{base}/reject"}
    return doc


def response_doc(r: FactoryResponse) -> dict[str, Any]:
    """A site's answer to a line: accepted, declined with a reason, or timeout; where it went and the platform's
    cost of keeping the buyer's price."""
    doc: dict[str, Any] = r.model_dump(mode="json")
    doc["response_s"] = round(r.response_s, 3)
    doc["currency"] = "CNY"
    return doc


def acceptance_doc(v: AcceptanceView) -> dict[str, Any]:
    """An order's lines with their acceptance state (pending, accepted, awaiting_buyer, none), the answers and the
    proposed dates."""
    return {"order_id": v.order_id,
            "lines": [{"line_id": ln.line_id, "site_id": ln.site_id, "state": ln.state.value,
                       "allocated_at": _iso(ln.allocated_at), "respond_by": _iso(ln.respond_by)} for ln in v.lines],
            "responses": [response_doc(r) for r in v.responses],
            "proposals": [proposal_doc(p) for p in v.proposals],
            "links": {"order": f"/api/v1/orders/{v.order_id}"}}


def job_doc(j: Job) -> dict[str, Any]:
    """The job resource."""
    return {"id": j.id, "kind": j.kind, "status": j.status, "attempts": j.attempts,
            "created_at": _iso(j.created_at), "started_at": _iso(j.started_at),
            "finished_at": _iso(j.finished_at), "result": j.result, "problem": j.problem,
            "progress": j.progress, "progress_note": j.progress_note,
            "links": {"self": f"/api/v1/jobs/{j.id}"}}


#: The report fields a part resource shows as its `facts`.
_FACT_KEYS = ("format", "units", "units_source", "triangles", "bodies", "objects", "bbox_mm", "bbox_min_mm",
              "volume_mm3", "area_mm2", "convex_hull_volume_mm3", "center_mass_mm", "watertight",
              "winding_consistent", "degenerate_faces", "boundary_edges", "nonmanifold_edges", "genus",
              "self_intersecting_faces", "min_wall_mm", "min_gap_mm")


def part_doc(p: StoredPart, full: bool = True) -> dict[str, Any]:
    """The part resource: file facts, status, and (when analysed) facts, findings and the report."""
    doc: dict[str, Any] = {
        "id": p.id, "filename": p.filename, "size_bytes": p.size_bytes, "sha256": p.sha256,
        "status": p.status, "created_at": _iso(p.created_at), "units": p.units,
        "job": {"id": p.job_id, "href": f"/api/v1/jobs/{p.job_id}"} if p.job_id else None,
        "problem": p.problem,
        "links": {"self": f"/api/v1/parts/{p.id}", "mesh": f"/api/v1/parts/{p.id}/mesh",
                  "design": f"/api/v1/parts/{p.id}/design", "audit": f"/api/v1/parts/{p.id}/audit"},
    }
    rep = p.report.model_dump(mode="json") if p.report is not None else None
    doc["facts"] = {k: rep.get(k) for k in _FACT_KEYS} if rep else None
    doc["orderable"] = rep.get("orderable") if rep else None
    if full:
        doc["findings"] = rep.get("findings", []) if rep else []
        doc["report"] = rep
    return doc


def access_doc(a: DesignAccess) -> dict[str, Any]:
    """One entry of a design's access log."""
    return {"at": _iso(a.at), "action": a.action, "allowed": a.allowed, "reason": a.reason,
            "actor": {"user_id": a.actor_user_id, "email": a.actor_email, "organisation": a.actor_organisation,
                      "site_id": a.actor_site_id}, "order_id": a.order_id}


def webhook_doc(w: Webhook) -> dict[str, Any]:
    """A webhook (never its secret)."""
    return {"id": w.id, "url": w.url, "events": list(w.events), "active": w.active, "created_at": _iso(w.created_at)}


def delivery_doc(d: WebhookDelivery) -> dict[str, Any]:
    """One delivery of a webhook with its attempts."""
    return {"id": d.id, "event": d.event, "status": d.status, "attempts": d.attempts,
            "last_status_code": d.last_status_code, "last_error": d.last_error, "created_at": _iso(d.created_at),
            "delivered_at": _iso(d.delivered_at), "payload": d.payload}
