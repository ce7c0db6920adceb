"""Park operators: GET /api/v1/operator/orders; disruptions (issue 22): POST /api/v1/operator/disruptions
{kind, target, start, end?, preview?} (200 with the moves for a preview, 202 once applied), GET (list, one), PATCH
{start?, end?, open_ended?} (edit), DELETE (cancel one not yet ended); the older {site_id, days} body is a site
disruption from now for that many days (the same path). GET /api/v1/operator/kpis (ISO 22400 KPIs of a window).
Value reports (item 4): POST /api/v1/operator/value-reports (202 with the report and its job), GET (list), GET one.
For buyers: POST /api/v1/orders/{id}/lines/{line_id}/cancel (a line whose date a disruption moved).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fabgrid.api.auth import CurrentPrincipal, require_role
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import order_doc
from fabgrid.config import Settings
from fabgrid.domain.disruption import DisruptionMove, NetworkDisruption
from fabgrid.domain.telemetry import Kpis
from fabgrid.domain.value_report import ValueReport
from fabgrid.errors import InputError
from fabgrid.services import disruptions, orders, value_reports, web_operator
from fabgrid.services._util import now

router = APIRouter(prefix="/api/v1/operator", tags=["operator"], dependencies=[require_role("operator")])  # type: ignore[list-item]
#: The buyer's answer to a disruption that moved a line's date.
buyer_router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class DisruptionBody(BaseModel):
    """A disruption over a window: `kind` and `target` (site id, machine id, province, FROM:TO route of city
    names, material id), `start`, `end` (none: open-ended); `preview: true` only shows the moves. The older form
    `{site_id, days}` closes a site for `days` from now (a site disruption starting now)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["site", "machine", "province", "route", "material"] | None = None
    target: str | None = Field(default=None, max_length=200)
    start: datetime | None = None
    end: datetime | None = None
    preview: bool = False
    note: str = Field(default="", max_length=500)
    site_id: str | None = Field(default=None, max_length=64)
    days: int | None = Field(default=None, ge=1, le=365)


class EditBody(BaseModel):
    """A disruption's new window: `start` (before it started only), `end`, or `open_ended: true` for no end."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | None = None
    end: datetime | None = None
    open_ended: bool = False


def move_doc(m: DisruptionMove) -> dict[str, Any]:
    """One affected line: old and new site, price, date, distance, CO2, the load it adds."""
    doc: dict[str, Any] = m.model_dump(mode="json")
    doc["moved"], doc["slips"] = m.moved, m.slips
    doc["buyer_price_cny"] = m.old_price_cny
    doc["platform_cost_cny"] = (round(m.new_price_cny - m.old_price_cny, 2) if m.new_price_cny is not None
                                and m.moved else 0.0)
    doc["links"] = {"order": f"/api/v1/orders/{m.order_id}"}
    return doc


def network_disruption_doc(d: NetworkDisruption, at: datetime | None = None) -> dict[str, Any]:
    """The disruption resource: kind, target, window, state, the moves applied."""
    return {"id": d.id, "kind": d.kind.value, "target": d.target, "start": d.start.isoformat(),
            "end": d.end.isoformat() if d.end else None, "state": d.state(at or now()).value, "note": d.note,
            "declared_by": d.declared_by, "created_at": d.created_at.isoformat(),
            "cancelled_at": d.cancelled_at.isoformat() if d.cancelled_at else None,
            "moves": [move_doc(m) for m in d.moves],
            "links": {"self": f"/api/v1/operator/disruptions/{d.id}"}}


@router.get("/orders", summary="Every order of the network")
def all_orders(principal: CurrentPrincipal, settings: SettingsDep, status: str | None = None) -> list[dict[str, Any]]:
    return [order_doc(o) for o in orders.list_orders(settings, principal, status, limit=1000)]


@router.post("/disruptions", status_code=202, summary="Declare a disruption (or preview its moves)",
             responses={200: {"description": "the preview's moves; nothing changed"}})
def declare(body: DisruptionBody, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    if body.kind is None:
        if body.site_id is None or body.days is None:
            raise InputError("a disruption needs kind, target and start (or the older site_id and days)",
                             hint='e.g. {"kind": "machine", "target": "cs-tianxin-01-m1", '
                                  '"start": "2026-12-04T08:00:00+08:00", "end": "2026-12-06T08:00:00+08:00"}',
                             code="disruption.body")
        start = now()
        body = body.model_copy(update={"kind": "site", "target": body.site_id, "start": start,
                                       "end": start + timedelta(days=body.days),
                                       "note": body.note or f"closed {body.days} days"})
    if body.kind is None or body.target is None or body.start is None:
        raise InputError(f"a {body.kind} disruption needs target and start", hint="end is optional (open-ended)",
                         code="disruption.body")
    if body.preview:
        plan = disruptions.preview(settings, principal, body.kind, body.target, body.start, body.end)
        return JSONResponse({"kind": plan.kind.value, "target": plan.target, "start": plan.start.isoformat(),
                             "end": plan.end.isoformat() if plan.end else None,
                             "moves": [move_doc(m) for m in plan.moves], "check": list(plan.violations)},
                            status_code=200)
    done = disruptions.declare(settings, principal, body.kind, body.target, body.start, body.end, body.note)
    assert done.disruption is not None
    doc = network_disruption_doc(done.disruption) | {"check": list(done.violations)}
    return JSONResponse(doc, status_code=202, headers={"Location": doc["links"]["self"]})


@router.get("/disruptions", summary="Declared disruptions, newest first")
def list_disruptions(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    at = now()
    return [network_disruption_doc(d, at) for d in disruptions.list_disruptions(settings, principal)]


@router.get("/disruptions/{disruption_id}", summary="One disruption with its moves")
def one(disruption_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return network_disruption_doc(disruptions.get(settings, principal, disruption_id))


@router.patch("/disruptions/{disruption_id}", summary="Change a disruption's window")
def edit(disruption_id: str, body: EditBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    done = disruptions.edit(settings, principal, disruption_id, body.start, body.end, body.open_ended)
    assert done.disruption is not None
    return network_disruption_doc(done.disruption)


@router.delete("/disruptions/{disruption_id}", summary="Cancel a disruption that has not ended")
def cancel(disruption_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return network_disruption_doc(disruptions.cancel(settings, principal, disruption_id))


def _kpis_doc(k: Kpis) -> dict[str, Any]:
    doc: dict[str, Any] = k.model_dump(mode="json")
    doc["performance"] = doc["effectiveness"]  # ISO 22400-2 calls OEE's second factor effectiveness
    return doc


def kpi_report_doc(r: web_operator.KpiReport) -> dict[str, Any]:
    """The KPI report: the window, the ISO 22400 KPIs with their elements (whole window and per trend period), and
    the order figures."""
    return {
        "scope": r.scope, "site": r.site, "window": r.window, "from": r.start.isoformat(), "to": r.end.isoformat(),
        "period_s": r.period_s, "machines": r.machines, "sites": list(r.sites),
        "kpis": _kpis_doc(r.total) if r.total is not None else None,
        "trend": [_kpis_doc(k) for k in r.trend],
        "utilisation": r.utilisation, "utilization_efficiency": r.utilization_efficiency,
        "machine_h": r.machine_h, "value_added_cny_per_machine_h": r.value_added_cny_per_machine_h,
        "cost_cny_per_machine_h": r.cost_cny_per_machine_h,
        "orders": {"delivered_lines": r.delivered_lines, "on_time_rate": r.on_time_rate,
                   "lead_time_days_median": r.lead_time_days_median, "delivered_value_cny": r.delivered_value_cny,
                   "delivered_machine_h": r.delivered_machine_h, "open_by_status": r.open_by_status},
        "note": r.note}


@router.get("/kpis", summary="ISO 22400 KPIs of the network or a site over a window, with a trend")
def kpis(principal: CurrentPrincipal, settings: SettingsDep,
         scope: Annotated[Literal["network", "site"], Query()] = "network",
         site: Annotated[str | None, Query(max_length=64)] = None,
         window: Annotated[Literal["shift", "day", "week", "30d"], Query()] = "day") -> dict[str, Any]:
    return kpi_report_doc(web_operator.kpi_report(settings, principal, scope, site, window))


@buyer_router.post("/{order_id}/lines/{line_id}/cancel", summary="Cancel a line whose date a disruption moved")
def cancel_line(order_id: str, line_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    c = disruptions.cancel_line(settings, principal, order_id, line_id)
    return {"order_id": c.order_id, "line_id": c.line_id, "status": "cancelled", "disruption_id": c.disruption_id,
            "at": c.at.isoformat(), "links": {"order": f"/api/v1/orders/{c.order_id}"}}


class ValueReportBody(BaseModel):
    """A value report to run (issue 22, item 4): the traditional vs the fabgrid policy over `days` (1..60) and
    `seeds` (1..10) spawned from `seed`, `parts` generated parts (2..60), the first `sites` sites (none: all),
    demand `scale` (0.01..5), `disruptions` (KIND:TARGET:EFFECT:dayA-B, commas) and `assumptions` (keys of
    data/sim.yaml -> value). Longer runs: `fabgrid simulate --report`."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=value_reports.DEFAULTS["days"], ge=value_reports.MIN_DAYS, le=value_reports.MAX_DAYS)
    seeds: int = Field(default=value_reports.DEFAULTS["seeds"], ge=value_reports.MIN_SEEDS,
                       le=value_reports.MAX_SEEDS)
    seed: int = Field(default=0, ge=0, lt=2**31)
    parts: int = Field(default=value_reports.DEFAULTS["parts"], ge=value_reports.MIN_PARTS,
                       le=value_reports.MAX_PARTS)
    sites: int | None = Field(default=None, ge=1)
    scale: float = Field(default=1.0, ge=value_reports.MIN_SCALE, le=value_reports.MAX_SCALE)
    disruptions: str = Field(default="", max_length=500)
    assumptions: dict[str, str | float | int] = Field(default_factory=dict, max_length=value_reports.MAX_ASSUMPTIONS)
    measure_packing: bool = False


def value_report_doc(r: ValueReport, full: bool = False) -> dict[str, Any]:
    """A value report: options, status, progress, its job; with `full`, the report itself once it succeeded."""
    out: dict[str, Any] = {
        "id": r.id, "status": r.status.value, "options": r.options,
        "progress": {"runs_done": r.runs_done, "runs_total": r.runs_total}, "job_id": r.job_id,
        "created_at": r.created_at.isoformat(), "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "problem": r.problem,
        "links": {"self": f"/api/v1/operator/value-reports/{r.id}", "job": f"/api/v1/jobs/{r.job_id}",
                  "page": f"/operator/value-reports/{r.id}"}}
    if full and r.doc is not None:
        v = value_reports.view(r)
        doc = r.doc
        out["report"] = {
            "days": doc["days"], "seeds": doc["seeds"], "sites": doc.get("sites"), "policies": doc["policies"],
            "change": doc.get("change"), "library": doc.get("library"), "disruptions": doc.get("disruptions", []),
            "cards": v.cards, "left_out": v.left_out, "claims": v.claims,
            "assumptions": [{"parameter": k, "value": val, "source": src, "changed": ch}
                            for k, val, src, ch in v.assumptions],
            "charts": sorted(r.charts or {}), "runs": doc.get("runs"), "wall_s": doc.get("wall_s")}
    return out


@router.post("/value-reports", status_code=202, summary="Start a value report (traditional vs fabgrid, simulated)")
def start_value_report(body: ValueReportBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    o = value_reports.ValueReportOptions(
        days=body.days, seeds=body.seeds, seed=body.seed, parts=body.parts, sites=body.sites, scale=body.scale,
        disruptions=body.disruptions, assumptions={k: str(v) for k, v in body.assumptions.items()},
        measure_packing=body.measure_packing)
    return value_report_doc(value_reports.start(settings, principal, o))


@router.get("/value-reports", summary="The value reports, newest first")
def list_value_reports(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [value_report_doc(r) for r in value_reports.list_reports(settings, principal)]


@router.get("/value-reports/{report_id}", summary="One value report: progress, then the report")
def one_value_report(report_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return value_report_doc(value_reports.get_report(settings, principal, report_id), full=True)
