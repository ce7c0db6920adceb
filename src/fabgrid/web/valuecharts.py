"""The value report's charts as inline SVG in the page's language (issue 22, item 4): the relative change of the
headline metrics with their 95 % intervals and the industry claims, the daily series per policy with the disruptions
shaded, and the operating cost per good part by element. The same charts as the CLI report's PNGs, drawn from the
stored document so that every label comes from the page's catalog.

Standard library and markupsafe only; the texts are handed in (`t`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

Translate = Callable[..., str]
#: The metrics of the change chart, in order (those the run measured).
CHANGE_KEYS = ("parts_per_machine_hour", "cost_per_part_cny", "energy_kwh_per_value_added_cny",
               "co2_kg_per_value_added_cny", "material_waste_share", "oee", "on_time_rate", "lead_time_days_mean")
#: The daily series drawn, each with its unit's catalog key.
DAILY = (("parts_good", "vr.unit.parts"), ("oee", "vr.unit.oee"), ("orders_delivered", "vr.unit.orders"))
COST_ELEMENTS = ("cost_machine_cny", "cost_labour_cny", "cost_energy_cny", "cost_material_cny", "cost_shipping_cny")
COLOURS = {"traditional": "#8c8c8c", "fabgrid": "#1f77b4", "placed": "#ff7f0e"}
ELEMENT_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
W = 760


@dataclass(frozen=True)
class Chart:
    """One chart: its key (as the PNG of the CLI report), its title in the page's language, the SVG."""

    key: str
    title: str
    svg: Markup


def _mean(v: Any) -> float | None:
    m = v.get("mean") if isinstance(v, dict) else v
    return float(m) if isinstance(m, int | float) and m == m else None


def _svg(height: int, body: str, label: str) -> Markup:
    return Markup(f'<svg class="vr-chart" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}" '
                  f'xmlns="http://www.w3.org/2000/svg">{body}</svg>')


def _text(x: float, y: float, s: str, anchor: str = "start", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}>{escape(s)}</text>'


def change_chart(doc: dict[str, Any], claims: Sequence[dict[str, Any]], lower_is_better: frozenset[str],
                 t: Translate) -> Chart | None:
    """Bars of the relative change fabgrid vs traditional (green: better), their 95 % interval, the claims."""
    change = doc.get("change") or {}
    keys = [k for k in CHANGE_KEYS if _mean(change.get(k)) is not None]
    if not keys:
        return None
    means = [100 * (_mean(change[k]) or 0.0) for k in keys]
    halves = [100 * float(change[k].get("half_width") or 0.0) if isinstance(change[k], dict) else 0.0 for k in keys]
    claimed = {c["metric"]: float(c["value"]) for c in claims if c["metric"] in keys}
    lo = min([0.0, *(m - h for m, h in zip(means, halves, strict=True)), *claimed.values()])
    hi = max([0.0, *(m + h for m, h in zip(means, halves, strict=True)), *claimed.values()])
    span = (hi - lo) or 1.0
    left, right, row = 300, W - 20, 26
    height = 40 + row * len(keys) + 30

    def x(v: float) -> float:
        return left + (v - lo) / span * (right - left)

    parts = [f'<line x1="{x(0):.1f}" y1="20" x2="{x(0):.1f}" y2="{20 + row * len(keys)}" class="axis"/>']
    for i, (k, m, h) in enumerate(zip(keys, means, halves, strict=True)):
        y = 20 + i * row
        good = (m < 0) == (k in lower_is_better)
        x0, x1 = sorted((x(0), x(m)))
        parts.append(_text(left - 8, y + 16, t(f"vr.metric.{k}"), "end"))
        parts.append(f'<rect x="{x0:.1f}" y="{y + 5}" width="{max(x1 - x0, 1):.1f}" height="{row - 10}" '
                     f'fill="{"#2ca02c" if good else "#d62728"}" data-metric="{k}"><title>{m:+.1f} %</title></rect>')
        if h:
            parts.append(f'<line x1="{x(m - h):.1f}" y1="{y + 13}" x2="{x(m + h):.1f}" y2="{y + 13}" class="ci"/>')
        if k in claimed:
            cx = x(claimed[k])
            parts.append(f'<path d="M{cx:.1f} {y + 6}l6 7l-6 7l-6 -7z" class="claim"><title>'
                         f'{escape(t("vr.claimed"))} {claimed[k]:+g} %</title></path>')
    base = 20 + row * len(keys)
    for v in (lo, 0.0, hi):
        parts.append(_text(x(v), base + 14, f"{v:+.0f} %", "middle", "tick"))
    parts.append(_text((left + right) / 2, base + 28, t("vr.chart.change_axis"), "middle", "tick"))
    title = t("vr.chart.change")
    return Chart("change", title, _svg(height, "".join(parts), title))


def _line_chart(key: str, title: str, unit: str, series: dict[str, list[float]], spans: Sequence[tuple[int, int]],
                t: Translate) -> Chart:
    left, right, top, bottom, height = 60, W - 130, 24, 196, 226
    n = max(len(v) for v in series.values())
    hi = max([max(v) if v else 0.0 for v in series.values()]) or 1.0

    def xy(i: float, v: float) -> tuple[float, float]:
        return left + (i / max(n - 1, 1)) * (right - left), bottom - v / hi * (bottom - top)

    parts = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" class="axis"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" class="axis"/>']
    for a, b in spans:
        xa, xb = xy(max(a, 0), 0)[0], xy(min(b + 1, n - 1), 0)[0]
        parts.append(f'<rect x="{xa:.1f}" y="{top}" width="{max(xb - xa, 2):.1f}" height="{bottom - top}" '
                     f'class="disruption"><title>{escape(t("vr.chart.disrupted"))}</title></rect>')
    for j, (name, values) in enumerate(series.items()):
        pts = " ".join("{:.1f},{:.1f}".format(*xy(i, v)) for i, v in enumerate(values))
        dash = ' stroke-dasharray="5 3"' if name == "placed" else ""
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS.get(name, "#333")}" stroke-width="2"'
                     f'{dash} data-series="{name}"/>')
        parts.append(f'<line x1="{right + 12}" y1="{top + 10 + 18 * j}" x2="{right + 30}" y2="{top + 10 + 18 * j}" '
                     f'stroke="{COLOURS.get(name, "#333")}" stroke-width="3"/>')
        parts.append(_text(right + 34, top + 14 + 18 * j, t(f"vr.series.{name}")))
    fmt = "{:.0%}" if key == "oee" else "{:,.4g}"
    parts.append(_text(left - 6, top + 4, fmt.format(hi), "end", "tick"))
    parts.append(_text(left - 6, bottom, fmt.format(0), "end", "tick"))
    parts.append(_text(left, bottom + 14, t("vr.chart.day", n=0), "middle", "tick"))
    parts.append(_text(right, bottom + 14, t("vr.chart.day", n=n - 1), "middle", "tick"))
    parts.append(_text(left - 6, top - 4, unit, "start", "tick"))
    return Chart(key, title, _svg(height, "".join(parts), title))


def daily_charts(doc: dict[str, Any], t: Translate) -> list[Chart]:
    """One line chart per daily series (the seeds' mean per policy); none when the report kept no series."""
    daily = doc.get("daily") or {}
    pols = [p for p in doc.get("policies", {}) if p in daily]
    if not pols:
        return []
    spans = [(int(d["start_day"]), int(d["end_day"])) for d in doc.get("disruptions", [])]
    out = []
    for key, unit in DAILY:
        series = {p: [float(v) for v in daily[p].get(key, [])] for p in pols}
        if key == "orders_delivered" and "orders_placed" in daily[pols[0]]:
            series["placed"] = [float(v) for v in daily[pols[0]]["orders_placed"]]
        if all(series.values()):
            out.append(_line_chart(key, t(f"vr.chart.{key}"), t(unit), series, spans, t))
    return out


def cost_chart(doc: dict[str, Any], t: Translate) -> Chart | None:
    """Stacked bars of the operating cost per good part by element (machines, operators, energy, material,
    shipping), one bar per policy."""
    pols = list(doc.get("policies", {}))
    if not pols or any(_mean(doc["policies"][p].get(COST_ELEMENTS[0])) is None for p in pols):
        return None
    per_part = {p: [(_mean(doc["policies"][p].get(k)) or 0.0) / max(_mean(doc["policies"][p].get("parts_good")) or 0.0,
                                                                  1.0) for k in COST_ELEMENTS] for p in pols}
    top = max(sum(v) for v in per_part.values()) or 1.0
    left, right, row = 130, W - 20, 34
    height = 40 + row * len(pols) + 40
    parts = []
    for j, k in enumerate(COST_ELEMENTS):
        lx = left + j * 120
        parts.append(f'<rect x="{lx}" y="6" width="12" height="12" fill="{ELEMENT_COLOURS[j]}"/>')
        parts.append(_text(lx + 16, 17, t(f"vr.cost.{k}"), cls="tick"))
    for i, p in enumerate(pols):
        y, x = 32 + i * row, float(left)
        parts.append(_text(left - 8, y + 18, t(f"vr.policy.{p}"), "end"))
        for j, v in enumerate(per_part[p]):
            w = v / top * (right - left)
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 8}" fill="{ELEMENT_COLOURS[j]}">'
                         f'<title>{escape(t(f"vr.cost.{COST_ELEMENTS[j]}"))} ¥{v:,.2f}</title></rect>')
            x += w
        parts.append(_text(min(x + 4, right - 40), y + 18, f"¥{sum(per_part[p]):,.2f}", cls="tick"))
    parts.append(_text((left + right) / 2, 32 + row * len(pols) + 16, t("vr.chart.cost_axis"), "middle", "tick"))
    title = t("vr.chart.cost")
    return Chart("cost", title, _svg(height, "".join(parts), title))


def charts(doc: dict[str, Any], claims: Sequence[dict[str, Any]], lower_is_better: frozenset[str],
           t: Translate) -> list[Chart]:
    """Every chart the stored document can draw, in the CLI report's order."""
    first = change_chart(doc, claims, lower_is_better, t)
    last = cost_chart(doc, t)
    return [c for c in (first, *daily_charts(doc, t), last) if c is not None]
