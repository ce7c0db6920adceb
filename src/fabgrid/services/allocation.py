"""Use cases of arranging production across the network from files: read and validate a scenario or a
plan, allocate a scenario, re-plan after a disruption, generate a scenario from the shipped network.
Thin glue over the network engine (`fabgrid.network`); never imports api, web or cli.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fabgrid.errors import InputError

if TYPE_CHECKING:
    from fabgrid.domain.allocation import Disruption, DisruptionReport, Plan, Scenario

SCENARIO_HINT = ("see the schema with `fabgrid allocate --schema`; lines: [{id, quantity, candidates: "
                 "[{site, unit_price_cny, hours_per_unit, lead_days} or [site, cost, capacity_use]]}], "
                 "sites: [{id, capacity_h_per_day}]")


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise InputError(f"{path}: no such file", hint=f"give the {what} JSON file", code="allocation.file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text", hint=f"give the {what} as a JSON file",
                         code="allocation.json") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                         hint="check the file's syntax", code="allocation.json") from None


def _where(raw: Any, loc: tuple[Any, ...]) -> str:
    """`lines[3] (id L7).candidates[0].unit_price_cny` from a pydantic error location."""
    out: list[str] = []
    node = raw
    for part in loc:
        if isinstance(part, int):
            out[-1:] = [f"{out[-1] if out else ''}[{part}]"]
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "id" in node:
                out[-1] += f" (id {node['id']})"
        else:
            out.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(out) or "(top level)"


def read_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; InputError names the file, the line and the field."""
    from pydantic import ValidationError

    from fabgrid.domain.allocation import Scenario

    raw = _read_json(path, "scenario")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        where = f"{_where(raw, tuple(err['loc']))}: " if err["loc"] else ""
        raise InputError(f"{path}: {where}{msg}{more}",
                         hint=SCENARIO_HINT, code="allocation.scenario") from None


def read_plan(path: Path) -> Plan:
    """Read and validate a plan file (the JSON printed by `fabgrid allocate --json`)."""
    from pydantic import ValidationError

    from fabgrid.domain.allocation import Plan

    raw = _read_json(path, "plan")
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"{path}: not a plan: {_where(raw, tuple(err['loc']))}: {err['msg']}",
                         hint="give the JSON printed by `fabgrid allocate SCENARIO --json`",
                         code="allocation.plan") from None


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file."""
    from fabgrid.domain.allocation import Scenario

    return Scenario.model_json_schema()


def allocate(scenario: Scenario, *, time_limit_s: float, gap_target: float, solver: str, threads: int) -> Plan:
    """Allocate the scenario's lines to sites (MILP with a proved bound, or greedy)."""
    from fabgrid.network.solve import allocate as solve

    return solve(scenario, time_limit_s=time_limit_s, gap_target=gap_target, solver=solver, threads=threads)


def disrupt(scenario: Scenario, plan: Plan, disruption: Disruption, *, time_limit_s: float,
            churn_cny_per_unit: float) -> DisruptionReport:
    """Re-plan `plan` after `disruption`: only the affected lines move."""
    from fabgrid.network.disrupt import disrupt as replan

    return replan(scenario, plan, disruption, time_limit_s=time_limit_s, churn_cny_per_unit=churn_cny_per_unit)


def generate_scenario(*, n_sites: int, n_lines: int, seed: int, horizon_days: int, load: float,
                      max_candidates: int) -> Scenario:
    """A seeded scenario from the shipped network (sites beyond it are synthetic clones)."""
    from fabgrid.network.generate import generate_scenario as generate
    from fabgrid.services.catalog import shipped_network

    return generate(shipped_network(), n_sites=n_sites, n_lines=n_lines, seed=seed, horizon_days=horizon_days,
                    load=load, max_candidates=max_candidates)
