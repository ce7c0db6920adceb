"""The factory's Gantt chart as server-rendered SVG: one lane per machine and station, days and hours in
Asia/Shanghai on the time axis, staffed hours shaded, prints and steps as bars (late builds red, locked ones
outlined), machines marked down hatched. Plain strings in, markup out; depends on the standard library only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANE_H = 22
LABEL_W = 150
HOUR_W = 6.0
HEAD_H = 34


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def gantt_svg(rows: list[dict[str, Any]], staffed: list[tuple[str, str]], machines: list[str], start: str,
              *, days: int = 7, late: set[str] | frozenset[str] = frozenset(),
              locked: set[str] | frozenset[str] = frozenset(), down: list[tuple[str, str, str]] | None = None,
              labels: dict[str, str] | None = None) -> str:
    """The SVG of `rows` (build, step, resource, ISO start and end) over `days` from `start`."""
    labels = labels or {}
    t0 = _t(start)
    end = t0 + timedelta(days=days)
    lanes = list(machines) + sorted({str(r["resource"]) for r in rows if r.get("resource")} - set(machines))
    width = LABEL_W + days * 24 * HOUR_W + 10
    height = HEAD_H + LANE_H * max(1, len(lanes)) + 8

    def x(t: datetime) -> float:
        t = min(max(t, t0), end)
        return LABEL_W + (t - t0).total_seconds() / 3600.0 * HOUR_W

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="gantt-svg" viewBox="0 0 {width:.0f} {height}" '
           f'width="{width:.0f}" height="{height}" font-family="sans-serif" font-size="11">']
    for a, b in staffed:  # staffed hours
        out.append(f'<rect class="staffed" x="{x(_t(a)):.1f}" y="{HEAD_H}" width="{x(_t(b)) - x(_t(a)):.1f}" '
                   f'height="{height - HEAD_H}" fill="#fff6d5"/>')
    day = t0.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        if day >= t0:
            out.append(f'<line x1="{x(day):.1f}" y1="14" x2="{x(day):.1f}" y2="{height}" stroke="#999"/>')
        mid = max(day, t0.astimezone(SHANGHAI)) + timedelta(hours=1)
        if mid < end:
            out.append(f'<text x="{x(mid):.1f}" y="12">{day:%m-%d %a}</text>')
        for h in (6, 12, 18):
            tick = day + timedelta(hours=h)
            if t0 <= tick < end:
                out.append(f'<text x="{x(tick):.1f}" y="28" fill="#777" font-size="9">{h:02d}</text>')
        day += timedelta(days=1)
    lane_of = {name: i for i, name in enumerate(lanes)}
    for i, name in enumerate(lanes):
        y = HEAD_H + i * LANE_H
        out.append(f'<text x="4" y="{y + 15}">{escape(name)}</text>'
                   f'<line x1="0" y1="{y + LANE_H}" x2="{width:.0f}" y2="{y + LANE_H}" stroke="#eee"/>')
    for m, a, b in down or []:
        if m in lane_of:
            y = HEAD_H + lane_of[m] * LANE_H
            out.append(f'<rect class="down" data-machine="{escape(m)}" x="{x(_t(a)):.1f}" y="{y + 2}" '
                       f'width="{max(1.0, x(_t(b)) - x(_t(a))):.1f}" height="{LANE_H - 4}" fill="#bbb" '
                       f'fill-opacity="0.6"><title>{escape(labels.get("down", "down"))}</title></rect>')
    for r in rows:
        res = r.get("resource")
        if res is None or res not in lane_of:
            continue
        ta, tb = _t(str(r["start"])), _t(str(r["end"]))
        if tb <= t0 or ta >= end:
            continue
        build = str(r["build"])
        is_print = str(r["step"]).startswith("print")
        fill = "#d9534f" if build in late else ("#3b7dd8" if is_print else "#8fb996")
        stroke = ' stroke="#222" stroke-width="2" stroke-dasharray="4 2"' if build in locked else ""
        y = HEAD_H + lane_of[res] * LANE_H
        tip = (f'{build} · {r["step"]} · {ta.astimezone(SHANGHAI):%m-%d %H:%M}–{tb.astimezone(SHANGHAI):%m-%d %H:%M}'
               + (f' · {labels.get("late", "late")}' if build in late else "")
               + (f' · {labels.get("locked", "locked")}' if build in locked else ""))
        out.append(f'<rect class="op{" late" if build in late else ""}{" locked" if build in locked else ""}" '
                   f'data-build="{escape(build)}" data-step="{escape(str(r["step"]))}" x="{x(ta):.1f}" y="{y + 3}" '
                   f'width="{max(1.5, x(tb) - x(ta)):.1f}" height="{LANE_H - 6}" rx="2" fill="{fill}"{stroke}>'
                   f'<title>{escape(tip)}</title></rect>')
    out.append("</svg>")
    return "".join(out)
