"""Post-processing per process and finish: the mandatory steps of the process plus the chosen finish.

Turns finish records (operator time per part and per cm2, consumables, extra days) into per-part
figures. Depends on domain only.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabgrid.domain.catalog import Catalog, ProcessFamily
from fabgrid.errors import NotFoundError


@dataclass(frozen=True)
class PostProcess:
    """Per-part post-processing of one process with an optional finish."""

    steps: tuple[str, ...]
    operator_s: float
    consumables_cny: float
    lead_days: int


def finish_offered(catalog: Catalog, finish: str, process: ProcessFamily) -> bool:
    """True when `finish` exists and is offered for `process`; NotFoundError for an unknown finish."""
    rec = catalog.finishes.get(finish)
    if rec is None:
        known = ", ".join(sorted(catalog.finishes))
        raise NotFoundError(f"unknown finish {finish!r}", hint=f"use one of: {known}", code="quote.finish")
    return process in rec.processes


def post_process(catalog: Catalog, process: ProcessFamily, area_mm2: float, finish: str | None) -> PostProcess:
    """The mandatory steps of `process` (processes.yaml post_processing) and `finish`, per part."""
    steps = list(catalog.processes[process].post_processing) if process in catalog.processes else []
    if finish is not None and finish not in steps:
        finish_offered(catalog, finish, process)
        steps.append(finish)
    area_cm2 = area_mm2 / 100.0
    op = cons = 0.0
    days = 0
    for sid in steps:
        f = catalog.finishes.get(sid)
        if f is None:
            continue
        op += f.time_s_per_part + f.time_s_per_cm2 * area_cm2
        cons += f.cost_cny_per_part
        days = max(days, f.lead_days)
    return PostProcess(steps=tuple(steps), operator_s=op, consumables_cny=cons, lead_days=days)
