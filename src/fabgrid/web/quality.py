"""The factory's quality page (issue 20, item 4): the features its site has measured per part and, for one, the SPC
across its inspections: capability, the X-bar (or individuals) chart with its control limits as SVG, the
Western Electric alarms, and each inspection with its order, line, build, machine and material lot.

Calls services.inspection; never the store or an engine.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from fabgrid.domain.quality import ControlChart
from fabgrid.errors import InputError
from fabgrid.services import inspection
from fabgrid.web import i18n
from fabgrid.web.session import PageRoute, language, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
FACTORY = ("factory",)
_W, _H, _PAD = 640, 220, 36


def chart_svg(ch: ControlChart, title: str) -> Markup:
    """One control chart as inline SVG: the points joined, centre line, UCL/LCL dashed, violating points red."""
    vals = ch.values
    lo, hi = min([ch.lcl, *vals]), max([ch.ucl, *vals])
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.08 * span, hi + 0.08 * span

    def x(i: int) -> float:
        return _PAD + (i * (_W - 2 * _PAD) / max(1, len(vals) - 1) if len(vals) > 1 else (_W - 2 * _PAD) / 2)

    def y(v: float) -> float:
        return _H - _PAD / 2 - (v - lo) / (hi - lo) * (_H - _PAD)

    bad = {p for v in ch.violations for p in v.points}
    lines = "".join(
        f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="{cls}"/>'
        f'<text x="{_W - _PAD + 4}" y="{y(v) + 4:.1f}" font-size="11">{name} {v:.4g}</text>'
        for v, cls, name in ((ch.ucl, "limit", "UCL"), (ch.center, "centre", "CL"), (ch.lcl, "limit", "LCL")))
    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
    dots = "".join(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" class="{"alarm" if i in bad else "point"}">'
                   f"<title>#{i + 1}: {v:.4f}</title></circle>" for i, v in enumerate(vals))
    return Markup(
        f'<svg viewBox="0 0 {_W + 60} {_H}" width="100%" role="img" aria-label="{escape(title)}" class="spc-chart" '
        f'data-kind="{escape(ch.kind)}"><style>.limit{{stroke:#c0392b;stroke-dasharray:5 4}}.centre{{stroke:#2c3e50}}'
        f".point{{fill:#2c7be5}}.alarm{{fill:#c0392b}}polyline{{fill:none;stroke:#2c7be5}}</style>"
        f'<text x="{_PAD}" y="14" font-size="12">{escape(title)}</text>{lines}'
        f'<polyline points="{path}"/>{dots}</svg>')


@router.get("/factory/quality", response_class=HTMLResponse)
def quality_page(request: Request) -> HTMLResponse:
    """The measured features of the site's parts; with `part` and `feature`, that feature's SPC."""
    who = require(request, *FACTORY)
    settings = settings_of(request)
    series = inspection.site_feature_series(settings, who)
    part, feature = request.query_params.get("part", ""), request.query_params.get("feature", "")
    spc, charts, alarms, too_few = None, [], [], None
    if part or feature:
        if not (part and feature) or len(part) > 40 or len(feature) > 60:
            raise InputError("choose a part and one of its features", code="spc.feature")
        measured = next((s for s in series if s.part_id == part and s.feature == feature), None)
        if measured is not None and measured.values < inspection.MIN_CHART_VALUES:
            too_few = measured.values  # a chart needs more values: said on the page, not an error
        else:
            spc = inspection.site_feature_spc(settings, who, part, feature)
    if spc is not None:
        lang = language(request)

        def kind(ch: ControlChart) -> str:
            return i18n.translate(lang, f"quality.chart.{ch.kind}")

        rep = spc.report
        charts = [chart_svg(ch, f"{feature} · {kind(ch)}") for ch in (rep.location, rep.dispersion)]
        # the engine's alarms, said in the page's language
        alarms = [i18n.translate(lang, "quality.alarm.rule", chart=kind(ch), rule=v.rule, point=v.index + 1)
                  for ch in (rep.location, rep.dispersion) for v in ch.violations]
        if rep.capability.out_of_tolerance:
            alarms.append(i18n.translate(lang, "quality.alarm.tolerance", n=rep.capability.out_of_tolerance))
        if rep.capability.cpk is not None and rep.capability.cpk < 1.0:
            alarms.append(i18n.translate(lang, "quality.alarm.cpk", cpk=f"{rep.capability.cpk:.2f}"))
    return render(request, "quality.html", {"series": series, "spc": spc, "charts": charts, "alarms": alarms,
                                            "part": part, "feature": feature, "too_few": too_few,
                                            "min_values": inspection.MIN_CHART_VALUES}, who=who)
