"""The operator's value report pages (issue 22, item 4): the form of a comparison (traditional vs fabgrid over days
and seeds, with disruptions and the assumptions), its progress while the background job runs, then the report in the
page's language (headline cards with a figure, side by side, the industry claims with their sources, the charts, the
assumptions as a table), the past reports, and why the live KPIs and the simulator's figures differ.

Calls services.value_reports and services.web_operator; the charts come from web.valuecharts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from fabgrid.domain.value_report import ValueReport, ValueReportStatus
from fabgrid.errors import InputError
from fabgrid.services import value_reports, web_operator
from fabgrid.services.accounts import Principal
from fabgrid.web import i18n, valuecharts
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
OPERATOR = ("operator",)
#: The form's number fields: name -> (type, lowest, highest); a refusal's code is value_report.<name>.
NUMBERS: dict[str, tuple[type, float, float]] = {
    "days": (int, value_reports.MIN_DAYS, value_reports.MAX_DAYS),
    "seeds": (int, value_reports.MIN_SEEDS, value_reports.MAX_SEEDS),
    "parts": (int, value_reports.MIN_PARTS, value_reports.MAX_PARTS),
    "scale": (float, value_reports.MIN_SCALE, value_reports.MAX_SCALE),
    "seed": (int, 0, 2**31 - 1),
}


def _number(form: FormData, name: str) -> int | float:
    text = field(form, name) or str(value_reports.DEFAULTS[name])
    try:
        return int(text) if NUMBERS[name][0] is int else float(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a number", code=f"value_report.{name}") from None


def _options(form: FormData) -> value_reports.ValueReportOptions:
    """The comparison the form asks for; the assumptions left empty or at their shipped value are not sent."""
    sites_text = field(form, "sites")
    try:
        sites = int(sites_text) if sites_text else None
    except ValueError:
        raise InputError(f"sites {sites_text!r} is not a number", code="value_report.sites") from None
    shipped = {k: v for k, v, _ in value_reports.form_assumptions()}
    assumptions = {k: field(form, f"a.{k}") for k in shipped
                   if field(form, f"a.{k}") and field(form, f"a.{k}") != shipped[k]}
    return value_reports.ValueReportOptions(
        days=int(_number(form, "days")), seeds=int(_number(form, "seeds")), seed=int(_number(form, "seed")),
        parts=int(_number(form, "parts")), sites=sites, scale=float(_number(form, "scale")),
        disruptions=field(form, "disruptions")[:500], assumptions=assumptions)


def _problem_text(lang: str, code: str, message: str) -> tuple[str, str | None]:
    """A refusal in the page's language: the catalog's sentence for its code, and the item it names (the
    simulator's messages quote the bad item after a colon; CLI flags are left out). A Chinese sentence that is
    whole (it does not end in a colon before the item) goes without the English message; a code without a
    `vr.error.` sentence is said by its `error.<code>` text on a Chinese page."""
    key = f"vr.error.{code}"
    detail: str | None = message.split(": ", 1)[1] if message.startswith("--") and ": " in message else message
    if key in i18n.catalog("en"):
        text = i18n.translate(lang, key)
        return text, (None if lang == "zh" and not text.endswith("：") else detail)
    local, _ = localized_problem(lang, message, None, code)
    return (local, None) if local != message else (i18n.translate(lang, "vr.error.other"), detail)


def _list_context(request: Request, who: Principal, values: dict[str, Any] | None = None,
                  error: tuple[str, str, str | None] | None = None) -> dict[str, Any]:
    settings = settings_of(request)
    reports = value_reports.list_reports(settings, who)
    live = web_operator.network_kpis(settings, who)
    last = next((r for r in reports if r.status is ValueReportStatus.SUCCEEDED), None)
    return {"reports": reports, "assumptions": value_reports.form_assumptions(), "values": values or {},
            "defaults": value_reports.DEFAULTS, "bounds": NUMBERS, "error": error,
            "live": live, "simulated": _simulated_oee(last), "last": last,
            "refresh": any(r.status in (ValueReportStatus.QUEUED, ValueReportStatus.RUNNING) for r in reports)}


def _simulated_oee(r: ValueReport | None) -> float | None:
    """The fabgrid policy's network OEE in a report (None when it has none)."""
    if r is None or r.doc is None:
        return None
    v = (r.doc.get("policies", {}).get("fabgrid") or {}).get("oee")
    m = v.get("mean") if isinstance(v, dict) else v
    return float(m) if isinstance(m, int | float) else None


@router.get("/operator/value-reports", response_class=HTMLResponse)
def reports_page(request: Request) -> HTMLResponse:
    """The form of a new comparison, the past reports, and why the live and the simulated figures differ."""
    who = require(request, *OPERATOR)
    return render(request, "value_reports.html", _list_context(request, who), who=who)


@router.post("/operator/value-reports")
async def start_report(request: Request) -> Response:
    """Start a comparison in the background and go to its page; bad input is shown on the form (422)."""
    who = require(request, *OPERATOR)
    form = await checked_form(request)
    values = {k: field(form, k) for k in (*NUMBERS, "sites", "disruptions")}
    values |= {f"a.{k}": field(form, f"a.{k}") for k, _, _ in value_reports.form_assumptions()}
    try:
        r = value_reports.start(settings_of(request), who, _options(form))
    except InputError as exc:
        if exc.status == 403:
            raise
        text, detail = _problem_text(language(request), exc.code, exc.message)
        field_name = exc.code.removeprefix("value_report.").removeprefix("sim.")
        ctx = _list_context(request, who, values, (field_name, text, detail))
        return render(request, "value_reports.html", ctx, status_code=422, who=who)
    return RedirectResponse(f"/operator/value-reports/{r.id}", status_code=303)


@router.get("/operator/value-reports/{report_id}", response_class=HTMLResponse)
def report_page(request: Request, report_id: str) -> HTMLResponse:
    """One report: its progress while it runs (the page reloads itself), then the report; a failure's reason."""
    who = require(request, *OPERATOR)
    settings = settings_of(request)
    r = value_reports.get_report(settings, who, report_id)
    lang = language(request)
    ctx: dict[str, Any] = {"r": r, "o": r.options, "view": None, "charts": [], "problem": None,
                           "refresh": r.status in (ValueReportStatus.QUEUED, ValueReportStatus.RUNNING),
                           "live": None, "simulated": None}
    if r.status is ValueReportStatus.FAILED and r.problem:
        ctx["problem"] = _problem_text(lang, str(r.problem.get("title", "")), str(r.problem.get("detail", "")))
    if r.status is ValueReportStatus.SUCCEEDED and r.doc is not None:
        v = value_reports.view(r)
        ctx["view"] = v
        ctx["batch_h"] = next((val for k, val, _, _ in v.assumptions if k == "fabgrid.batch_h"), "?")
        ctx["charts"] = valuecharts.charts(r.doc, v.claims, v.lower_is_better,
                                           lambda key, **kw: i18n.translate(lang, key, **kw))
        ctx["live"] = web_operator.network_kpis(settings, who)
        ctx["simulated"] = _simulated_oee(r)
    return render(request, "value_report.html", ctx, who=who)
