"""`fabgrid allocate`, `fabgrid disrupt`, `fabgrid scenario generate`: arrange production across the network.

Calls services.allocation (imported inside the commands so `fabgrid --help` stays fast); never an engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fabgrid.cli._common import console, emit_json, table
from fabgrid.errors import InputError, LimitError

MAX_TIME_LIMIT_S = 3600.0


def _check_time(time_limit: float) -> None:
    if not 0 < time_limit <= MAX_TIME_LIMIT_S:
        raise LimitError(f"--time-limit {time_limit:g} s is outside (0, {MAX_TIME_LIMIT_S:g}]",
                         hint="give seconds, e.g. --time-limit 10", code="allocation.time_limit")


def _show_plan(plan: Any, title: str) -> None:
    gap = "" if plan.gap is None else f"{100 * plan.gap:.3f} %"
    table(title, ["status", "objective CNY", "bound CNY", "gap", "greedy CNY", "time s"],
          [[plan.status, f"{plan.objective:,.2f}" if plan.objective is not None else "",
            f"{plan.bound:,.2f}" if plan.bound is not None else "", gap,
            f"{plan.greedy_objective:,.2f}" if plan.greedy_objective is not None else "", plan.time_s]])
    c = plan.costs
    table("costs (CNY)", ["production", "shipping", "lateness", "CO2", "unplaced", "churn", "CO2 kg"],
          [[f"{c.production_cny:,.2f}", f"{c.shipping_cny:,.2f}", f"{c.lateness_cny:,.2f}", f"{c.co2_cny:,.2f}",
            f"{c.unassigned_cny:,.2f}", f"{c.churn_cny:,.2f}", f"{c.co2_kg:,.1f}"]])
    rows = [[a.line, a.site, a.quantity, a.delivery_day, a.late_days, a.unit_cost_cny] for a in plan.assignments]
    table(f"assignments ({len(rows)}; first 25, --json for all)",
          ["line", "site", "qty", "delivery day", "late days", "unit cost"], rows[:25])
    if plan.unassigned:
        table("unplaced", ["line", "qty", "reason"], [[u.line, u.quantity, u.reason] for u in plan.unassigned[:25]])
    for m in plan.messages:
        console.print(m)


def _allocate(file: Path | None, time_limit: float, gap: float, solver: str, threads: int, out: Path | None,
              as_json: bool, schema: bool) -> None:
    from fabgrid.services import allocation

    if schema:
        emit_json(allocation.scenario_schema())
        return
    if file is None:
        raise InputError("give a scenario FILE (or --schema)", hint="fabgrid allocate scenario.json --json",
                         code="allocation.file")
    _check_time(time_limit)
    if not 0 <= gap < 1:
        raise InputError(f"--gap {gap:g} must be in [0, 1)", hint="a relative gap, e.g. 0.001",
                         code="allocation.gap")
    sc = allocation.read_scenario(file)
    plan = allocation.allocate(sc, time_limit_s=time_limit, gap_target=gap, solver=solver, threads=threads)
    if out is not None:
        out.write_text(plan.model_dump_json(indent=1), encoding="utf-8")
    if as_json:
        emit_json(plan.model_dump(mode="json"))
    else:
        _show_plan(plan, f"{sc.name}: {len(sc.lines)} lines x {len(sc.sites)} sites ({plan.solver})")


def _disruption(site: str | None, machine: str | None, province: str | None, route: str | None,
                material: str | None, days: int | None, horizon: int) -> Any:
    from pydantic import ValidationError

    from fabgrid.domain.allocation import Disruption

    given = {k: v for k, v in (("machine", machine), ("province", province), ("route", route),
                               ("material", material)) if v is not None}
    if len(given) > 1:
        raise InputError(f"give one disruption at a time, got {sorted(given)}",
                         hint="--site S | --machine M | --province P | --route A:B | --material X [--site S]",
                         code="disrupt.kind")
    if not given and site is None:
        raise InputError("no disruption given", code="disrupt.kind",
                         hint="--site S | --machine M | --province P | --route A:B | --material X [--site S]")
    kind = next(iter(given), "site")
    if kind not in ("site", "material") and site is not None:
        raise InputError(f"--site goes with a site closure or a material shortage, not with --{kind}",
                         code="disrupt.kind", hint="give one disruption at a time")
    ends: tuple[str, str] | None = None
    if route is not None:
        parts = [p.strip() for p in route.split(":")]
        if len(parts) != 2 or not all(parts):
            raise InputError(f"--route {route!r} must be FROM:TO (two city names)", code="disrupt.route",
                             hint="e.g. --route Changsha:Beijing")
        ends = (parts[0], parts[1])
    try:
        return Disruption(kind=kind, days=days if days is not None else horizon, site=site, machine=machine,
                          province=province, route=ends, material=material)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"disruption: {'.'.join(map(str, err['loc'])) or kind}: {err['msg']}",
                         hint="--days must be >= 1", code="disrupt.invalid") from None


def _show_report(rep: Any) -> None:
    d = rep.disruption
    console.print(f"disruption: {d.kind.value} {d.site or d.machine or d.province or d.route or ''} "
                  f"{d.material or ''} for {d.days} days; {len(rep.affected_lines)} lines affected, "
                  f"churn {rep.churn_units} units ({100 * rep.churn_fraction:.1f} %)")
    table("moved", ["line", "from", "to", "qty"],
          [[m.line, m.from_site or "(unplaced)", m.to_site or "(unplaced)", m.quantity] for m in rep.moved[:30]])
    table("late after the disruption", ["line", "late before", "late after", "best alternatives"],
          [[x.line, x.late_days_before, "unplaced" if x.late_days_after is None else x.late_days_after,
            "; ".join(f"{a.site} late {a.late_days} d, {a.unit_cost_cny:.2f} CNY, {a.free_h} h free"
                      for a in x.alternatives)] for x in rep.late[:30]])
    _show_plan(rep.plan, f"re-plan (objective before: {rep.objective_before})")


def register(app: typer.Typer) -> None:
    """Add `allocate`, `disrupt` and `scenario generate`."""

    @app.command("allocate")
    def allocate_cmd(
        file: Path | None = typer.Argument(None, help="scenario JSON (see --schema)"),
        time_limit: float = typer.Option(10.0, "--time-limit", help="solver time limit in seconds"),
        gap: float = typer.Option(1e-4, "--gap", help="stop when the relative gap to the bound is below this"),
        solver: str = typer.Option("highs", "--solver", help="highs (MILP with a proved bound) or greedy"),
        threads: int = typer.Option(2, "--threads", min=1, max=64, help="components solved in parallel"),
        out: Path | None = typer.Option(None, "--out", help="also write the plan JSON here (for disrupt)"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
        schema: bool = typer.Option(False, "--schema", help="print the scenario JSON schema and exit"),
    ) -> None:
        """Allocate order lines to sites: min cost + shipping + lateness (+ CO2); hard capacities/constraints."""
        _allocate(file, time_limit, gap, solver, threads, out, as_json, schema)

    @app.command("disrupt")
    def disrupt_cmd(
        scenario: Path = typer.Argument(..., help="scenario JSON the plan was made for"),
        plan: Path = typer.Argument(..., help="plan JSON from `fabgrid allocate --json` (or --out)"),
        site: str | None = typer.Option(None, "--site", help="site closed (or, with --material, short there)"),
        machine: str | None = typer.Option(None, "--machine", help="machine down"),
        province: str | None = typer.Option(None, "--province", help="logistics halted from/to this province"),
        route: str | None = typer.Option(None, "--route", help="logistics halted between two cities, A:B"),
        material: str | None = typer.Option(None, "--material", help="material short"),
        days: int | None = typer.Option(None, "--days", help="how long, days from the start (default: horizon)"),
        time_limit: float = typer.Option(10.0, "--time-limit", help="re-plan time limit in seconds"),
        churn: float = typer.Option(1.0, "--churn-cny", help="charge per unit moved, to keep the plan stable"),
        out: Path | None = typer.Option(None, "--out", help="also write the new plan JSON here"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
    ) -> None:
        """Re-plan after a disruption: only affected lines move; report churn, late lines, alternatives."""
        _check_time(time_limit)
        from fabgrid.services import allocation

        sc = allocation.read_scenario(scenario)
        old = allocation.read_plan(plan)
        d = _disruption(site, machine, province, route, material, days, sc.horizon_days)
        rep = allocation.disrupt(sc, old, d, time_limit_s=time_limit, churn_cny_per_unit=churn)
        if out is not None:
            out.write_text(rep.plan.model_dump_json(indent=1), encoding="utf-8")
        if as_json:
            emit_json(rep.model_dump(mode="json"))
        else:
            _show_report(rep)

    scenario_app = typer.Typer(help="Allocation scenarios.", no_args_is_help=True)

    @scenario_app.command("generate")
    def generate_cmd(
        sites: int = typer.Option(..., "--sites", min=1, max=5000, help="number of sites"),
        lines: int = typer.Option(..., "--lines", min=1, max=100000, help="number of order lines"),
        seed: int = typer.Option(0, "--seed", help="random seed"),
        horizon: int = typer.Option(10, "--horizon-days", min=1, max=90, help="capacity horizon, days"),
        load: float = typer.Option(0.75, "--load", help="demand / free capacity per process"),
        candidates: int = typer.Option(16, "--candidates", min=1, max=500, help="offers per line (at most)"),
        out: Path | None = typer.Option(None, "--out", help="write the scenario here (default: stdout)"),
    ) -> None:
        """Build a scenario from the shipped network (sites beyond it are synthetic clones)."""
        from fabgrid.services.allocation import generate_scenario

        sc = generate_scenario(n_sites=sites, n_lines=lines, seed=seed, horizon_days=horizon,
                               load=load, max_candidates=candidates)
        text = sc.model_dump_json(exclude_defaults=True)
        if out is None:
            typer.echo(text)
        else:
            out.write_text(text, encoding="utf-8")
            console.print(f"wrote {out}: {len(sc.lines)} lines, {len(sc.sites)} sites, "
                          f"{sum(len(ln.candidates) for ln in sc.lines)} offers")

    app.add_typer(scenario_app, name="scenario")
