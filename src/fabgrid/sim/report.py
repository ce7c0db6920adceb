"""HTML report of a simulation comparison for a park operator: side-by-side table with intervals,
industry claims vs measured change (each with its public source), charts (embedded PNG, also written as files),
assumptions as a table of parameters. The pieces (`cards`, `claim_rows`, `assumption_rows`, `SIDE_BY_SIDE`) are
also what the operator's value-report page renders, in its language.

Self-contained HTML (no external assets); charts with matplotlib's Agg backend. Never imports
store, services, api or web.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from fabgrid.domain.sim import SimParams
from fabgrid.sim.metrics import LOWER_IS_BETTER

LABELS: dict[str, str] = {
    "parts_per_machine_hour": "Good parts per busy machine-hour",
    "value_added_per_machine_hour_cny": "Value added per busy machine-hour (CNY)",
    "cost_per_part_cny": "Operating cost per good part (CNY)",
    "energy_kwh_per_value_added_cny": "Energy per value added (kWh/CNY)",
    "co2_kg_per_value_added_cny": "CO2e per value added (kg/CNY)",
    "material_waste_kg": "Material waste (kg)",
    "material_waste_share": "Material waste share",
    "utilisation": "Machine utilisation (busy / calendar time)",
    "oee": "OEE (ISO 22400)",
    "on_time_rate": "On-time delivery rate",
    "lead_time_days_mean": "Lead time, mean (days)",
    "lead_time_days_p90": "Lead time, 90th percentile (days)",
    "orders_lost": "Orders lost (cancelled)",
    "orders": "Orders placed",
    "orders_delivered": "Orders delivered",
    "orders_in_progress": "Orders in progress at the end",
    "parts_good": "Good parts made",
    "energy_kwh": "Machine energy (kWh)",
    "cost_total_cny": "Operating cost, total (CNY)",
    "builds": "Builds / jobs run",
}
_PCT = {"utilisation", "oee", "on_time_rate", "material_waste_share"}


#: The headline cards: the relative change of these metrics, fabgrid vs traditional.
CARDS = ("parts_per_machine_hour", "cost_per_part_cny", "energy_kwh_per_value_added_cny", "on_time_rate",
         "orders_lost")
#: The rows of the side-by-side table, in order (those the run measured).
SIDE_BY_SIDE = ("parts_per_machine_hour", "value_added_per_machine_hour_cny", "cost_per_part_cny",
                "energy_kwh_per_value_added_cny", "co2_kg_per_value_added_cny", "material_waste_kg",
                "material_waste_share", "utilisation", "oee", "on_time_rate", "lead_time_days_mean",
                "lead_time_days_p90", "orders_lost", "orders", "orders_delivered", "orders_in_progress", "parts_good",
                "energy_kwh", "cost_total_cny", "builds")
PERCENT = frozenset(_PCT)


def _finite(v: Any) -> bool:
    m = v["mean"] if isinstance(v, dict) else v
    return isinstance(m, int | float) and m == m and abs(m) != float("inf")


def cards(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The headline metrics whose change has a figure, and those left out (no figure: the relative change is
    undefined where the traditional value is zero, or the metric was not measured in this run)."""
    change = doc.get("change") or {}
    shown = [k for k in CARDS if k in change and _finite(change[k])]
    return shown, [k for k in CARDS if k not in shown]


def _text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ", ".join(_text(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k} {_text(x)}" for k, x in v.items())
    return str(v)


def assumption_rows(params: SimParams) -> list[tuple[str, str, str]]:
    """The assumptions as (parameter, value, source) rows: one per key of data/sim.yaml two levels deep
    (``reliability.mtbf_h``), a deeper mapping or a list written out as text; the source is its section's."""
    rows: list[tuple[str, str, str]] = []
    for section, value in params.model_dump(mode="json").items():
        if section in ("sources", "industry_claims"):
            continue
        src = params.sources.get(section, "")
        if isinstance(value, dict):
            rows.extend((f"{section}.{k}", _text(v), src) for k, v in value.items())
        else:
            rows.append((section, _text(value), src))
    return rows


def claim_rows(doc: dict[str, Any], params: SimParams) -> list[dict[str, Any]]:
    """Each industry claim with the change this run measured for its metric (None: not measured)."""
    change = doc.get("change") or {}
    out = []
    for name, c in params.industry_claims.items():
        ch = change.get(c.metric)
        out.append({"name": name, "value": c.value, "metric": c.metric, "source": c.source,
                    "source_zh": c.source_zh or c.source, "note": c.note,
                    "measured": ch if ch is not None and _finite(ch) else None})
    return out


def _val(v: Any, key: str) -> str:
    if isinstance(v, dict):
        m, h = v["mean"], v["half_width"]
        if m != m:
            return "n/a"
        if key in _PCT:
            return f"{100 * m:.1f} % <span class=ci>± {100 * h:.1f}</span>"
        return f"{m:,.4g} <span class=ci>± {h:,.2g}</span>"
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{100 * v:.1f} %" if key in _PCT else f"{v:,.4g}"
    return html.escape(str(v))


def _change(v: Any, key: str) -> str:
    m = v["mean"] if isinstance(v, dict) else v
    if m is None or m != m:
        return "n/a"
    good = (m < 0) == (key in LOWER_IS_BETTER)
    cls = "good" if good and abs(m) > 1e-9 else "bad" if abs(m) > 1e-9 else ""
    txt = f"{100 * m:+.1f} %"
    if isinstance(v, dict) and v.get("n", 0) > 1:
        txt += f" <span class=ci>[{100 * v['low']:+.1f}, {100 * v['high']:+.1f}]</span>"
    return f"<span class={cls}>{txt}</span>"


def _mean(v: Any) -> float:
    return float(v["mean"]) if isinstance(v, dict) else float(v)


def _png(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    path.write_bytes(buf.getvalue())
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _daily(doc: dict[str, Any], policy: str, key: str) -> list[float]:
    runs = doc["runs"][policy]
    n = len(runs[0]["daily"][key])
    return [sum(r["daily"][key][i] for r in runs) / len(runs) for i in range(n)]


def _charts(doc: dict[str, Any], params: SimParams, stem: Path) -> list[tuple[str, str, Path]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: list[tuple[str, str, Path]] = []
    pols = list(doc["policies"])
    colors = {"traditional": "#8c8c8c", "fabgrid": "#1f77b4"}
    if doc["change"]:
        keys = ["parts_per_machine_hour", "cost_per_part_cny", "energy_kwh_per_value_added_cny",
                "co2_kg_per_value_added_cny", "material_waste_share", "oee", "on_time_rate", "lead_time_days_mean"]
        keys = [k for k in keys if k in doc["change"]]
        means = [100 * _mean(doc["change"][k]) for k in keys]
        errs = [100 * doc["change"][k]["half_width"] if isinstance(doc["change"][k], dict) else 0.0 for k in keys]
        fig, ax = plt.subplots(figsize=(9, 4.2))
        cols = ["#2ca02c" if (m < 0) == (k in LOWER_IS_BETTER) else "#d62728" for m, k in zip(means, keys, strict=True)]
        ax.barh([LABELS.get(k, k) for k in keys], [0 if m != m else m for m in means], xerr=errs, color=cols,
                capsize=3)
        for claim in params.industry_claims.values():
            if claim.metric in keys:
                y = keys.index(claim.metric)
                ax.plot([claim.value], [y], marker="D", color="black", ms=7)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel("change fabgrid vs traditional, % (bars: 95 % CI; diamonds: industry claim)")
        ax.invert_yaxis()
        out.append(("change", "Relative change, fabgrid vs traditional", stem.with_name(stem.name + "-change.png")))
        out[-1] = (out[-1][0], out[-1][1] + "|" + _png(fig, out[-1][2]), out[-1][2])
    for key, title, ylabel in (("parts_good", "Good parts per day", "parts"),
                               ("oee", "Network OEE per day", "OEE"),
                               ("orders_delivered", "Orders delivered per day", "orders")):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        for p in pols:
            ax.plot(range(len(_daily(doc, p, key))), _daily(doc, p, key), label=p, color=colors.get(p), lw=2)
        if key == "orders_delivered":
            ax.plot(range(len(_daily(doc, pols[0], "orders_placed"))), _daily(doc, pols[0], "orders_placed"),
                    label="placed", color="#ff7f0e", lw=1, ls="--")
        for d in doc.get("disruptions", []):
            ax.axvspan(d["start_day"], d["end_day"] + 1, color="#d62728", alpha=0.08)
        ax.set_xlabel("day")
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
        path = stem.with_name(f"{stem.name}-{key}.png")
        out.append((key, title + "|" + _png(fig, path), path))
    fig, ax = plt.subplots(figsize=(9, 3.2))
    parts = [("cost_machine_cny", "machines"), ("cost_labour_cny", "operators"), ("cost_energy_cny", "energy"),
             ("cost_material_cny", "material"), ("cost_shipping_cny", "shipping")]
    left = [0.0] * len(pols)
    for k, name in parts:
        per_part = [_mean(doc["policies"][p][k]) / max(_mean(doc["policies"][p]["parts_good"]), 1.0) for p in pols]
        ax.barh(pols, per_part, left=left, label=name)
        left = [a + b for a, b in zip(left, per_part, strict=True)]
    ax.set_xlabel("operating cost per good part, CNY")
    ax.legend(ncol=5, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    path = stem.with_name(f"{stem.name}-cost.png")
    out.append(("cost", "Operating cost per good part by element|" + _png(fig, path), path))
    return out


def _claims(doc: dict[str, Any], params: SimParams) -> str:
    rows = []
    for c in claim_rows(doc, params):
        measured = (_change(c["measured"], c["metric"]) if c["measured"] is not None
                    else "not measured in this run")
        rows.append(f"<tr><td>{html.escape(c['name'].replace('_', ' '))}</td><td>{c['value']:+g} %</td>"
                    f"<td>{measured}</td><td>{html.escape(LABELS.get(c['metric'], c['metric']))}"
                    f"<br><span class=src>{html.escape(c['note'])}</span></td>"
                    f"<td class=src>{html.escape(c['source'])}</td></tr>")
    return ("<table><tr><th>claim</th><th>claimed</th><th>measured here</th><th>metric</th><th>source</th></tr>"
            + "".join(rows) + "</table>")


def _assumptions(params: SimParams) -> str:
    rows = [f"<tr><td>{html.escape(k)}</td><td class=mono>{html.escape(v)}</td>"
            f"<td class=src>{html.escape(src)}</td></tr>" for k, v, src in assumption_rows(params)]
    return "<table><tr><th>parameter</th><th>value (data/sim.yaml)</th><th>source / rationale</th></tr>" + \
        "".join(rows) + "</table>"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1180px;margin:24px auto;color:#222;padding:0 16px}
h1{font-size:26px;margin-bottom:4px}h2{font-size:19px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #eee;padding:5px 8px;
text-align:left;vertical-align:top}th{background:#f4f6f8}.ci{color:#777;font-size:12px}.good{color:#1a7f37;
font-weight:600}.bad{color:#b42318;font-weight:600}.src{color:#555;font-size:12px}.mono{font-family:monospace;
font-size:11px}.lead{font-size:15px;color:#444}img{max-width:100%}.kpis{display:flex;gap:14px;flex-wrap:wrap}
.kpi{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:200px}.kpi b{font-size:22px}"""


def write_report(doc: dict[str, Any], params: SimParams, path: Path) -> list[Path]:
    """Write the HTML report to `path` and one PNG per chart beside it; returns the PNG paths."""
    stem = path.with_suffix("")
    charts = _charts(doc, params, stem)
    pols = list(doc["policies"])
    keys = [k for k in SIDE_BY_SIDE if k in doc["policies"][pols[0]]]
    head = "".join(f"<th>{p}</th>" for p in pols) + ("<th>change fabgrid vs traditional</th>" if doc["change"] else "")
    body = "".join(
        f"<tr><td>{LABELS.get(k, k)}</td>" + "".join(f"<td>{_val(doc['policies'][p][k], k)}</td>" for p in pols)
        + (f"<td>{_change(doc['change'][k], k)}</td>" if doc["change"] else "") + "</tr>" for k in keys)
    n = len(doc["seeds"])
    kpis = ""
    if doc["change"]:
        shown, left_out = cards(doc)
        kpis = "<div class=kpis>" + "".join(
            f"<div class=kpi>{LABELS[k]}<br><b>{_change(doc['change'][k], k)}</b></div>" for k in shown) + "</div>"
        if left_out:
            kpis += ("<p class=src>No figure for " + html.escape(", ".join(LABELS[k] for k in left_out))
                     + ": the relative change is undefined where the traditional value is zero.</p>")
    dis = ", ".join(f"{d['kind']} {d['target']} days {d['start_day']}-{d['end_day']}"
                    for d in doc.get("disruptions", [])) or "none"
    lib = doc.get("library", {})
    figs = "".join(f"<h3>{html.escape(t.split('|')[0])}</h3><img alt='{html.escape(k)}' "
                   f"src='data:image/png;base64,{t.split('|')[1]}'>" for k, t, _ in charts)
    ci_note = (f"Values are means over {n} seeds with 95 % confidence intervals (t-distribution); changes are "
               "paired per seed (same demand, failures and disruptions under both policies)." if n > 1 else
               "One seed: no confidence interval (run with --seeds 5 or more).")
    page = f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>fabgrid network simulation</title>
<style>{_CSS}</style></head><body>
<h1>What does the platform change? Network simulation</h1>
<p class=lead>{doc['days']} simulated days of {doc.get('sites', '?')} sites,
{n} seed(s) spawned from seed {doc.get('seed', doc['seeds'][0])}.
Disruptions: {html.escape(dis)}. The <b>traditional</b> policy: each customer orders from the nearest capable
supplier, first-in first-out, one order per build, no rerouting. The <b>fabgrid</b> policy: quotes over the whole
network, allocation every {params.fabgrid.batch_h:g} h with the platform's optimiser, builds filled to the packing
density measured by the nesting engine and sequenced at each machine pool by the scheduling engine (dispatch rules
{html.escape(', '.join(params.fabgrid.sequencing.rules))}: the schedule with the least weighted tardiness), re-planning
when a factory closes. Under both policies a factory closure stops the builds running there (their parts are
scrapped, their units made again).</p>
{kpis}
<h2>Side by side</h2><p class=src>{ci_note}</p><table><tr><th>metric</th>{head}</tr>{body}</table>
<h2>Industry claims and what this simulation measures</h2>{_claims(doc, params)}
<p class=src>The simulation reports what it measures, whatever it is; the claims are for whole smart factories
(automation, MES, quality), of which order routing and build packing are one part.</p>
<h2>Charts</h2>{figs}
<h2>Assumptions</h2><p class=src>Part library: {lib.get('parts', '?')} parts; packing density: volume
{lib.get('density_volume', float('nan')):.3f}, plate {lib.get('density_plate', float('nan')):.3f}
({html.escape(str(lib.get('density_source', '')))}). Sites, machines, calendars, stations, tariffs and grid
factors come from the shipped network; times, material and energy per part from the costing engine; OEE from
the ISO 22400 KPI engine on the simulated machine events.</p>{_assumptions(params)}
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return [p for _, _, p in charts]

