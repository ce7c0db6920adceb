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
    #: per step: (finish id, operator seconds, consumables CNY) per part, which make up the two totals
    per_step: tuple[tuple[str, float, float], ...] = ()

    def priced_by(self, own_cny: dict[str, float]) -> tuple[float, float, float]:
        """(operator s, consumables CNY, own price CNY) per part when a site prices the steps in `own_cny` itself
        (its price replaces that step's costed labour and consumables)."""
        op, cons, own = self.operator_s, self.consumables_cny, 0.0
        for sid, s_op, s_cons in self.per_step:
            if sid in own_cny:
                op -= s_op
                cons -= s_cons
                own += own_cny[sid]
        return max(op, 0.0), max(cons, 0.0), own


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
    per: list[tuple[str, float, float]] = []
    for sid in steps:
        f = catalog.finishes.get(sid)
        if f is None:
            continue
        s_op = f.time_s_per_part + f.time_s_per_cm2 * area_cm2
        op += s_op
        cons += f.cost_cny_per_part
        per.append((sid, s_op, f.cost_cny_per_part))
        days = max(days, f.lead_days)
    return PostProcess(steps=tuple(steps), operator_s=op, consumables_cny=cons, lead_days=days, per_step=tuple(per))
