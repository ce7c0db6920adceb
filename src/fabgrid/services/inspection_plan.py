"""An order line's inspection plan (issue 20, item 4): the buyer names the features each line's parts must be
measured on, with their nominal and tolerance limits, before the line is inspected; the factory's inspection then
measures every planned feature against the plan's limits (a planned feature missing, or measured against other
limits, is refused with what to do), and may measure more. The factory's inspection form starts from the plan.

Depends on the store and services.orders/timeline; never on api, web or cli.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fabgrid.config import Settings
from fabgrid.domain.order import MAX_FEATURES, FeatureMeasurement, FeatureSpec, Order, OrderStatus
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import timeline
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

#: A line's plan can change until the line is inspected (or cancelled).
LOCKED = (OrderStatus.INSPECTED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED)


def set_plan(settings: Settings, who: Principal, order_id: str, line_id: str,
             features: Sequence[FeatureSpec]) -> Order:
    """Set (or clear, with no features) the inspection plan of a line of the caller's organisation's order; 409 once
    the line is inspected, 422 for a feature named twice or more than `MAX_FEATURES`."""
    if who.role not in ("buyer", "admin"):
        raise InputError("the buyer's organisation sets a line's inspection plan", code="order.plan_buyer",
                         status=403)
    if len(features) > MAX_FEATURES:
        raise InputError(f"{len(features)} features; a plan holds at most {MAX_FEATURES}", code="order.plan")
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise InputError("a feature is named twice in the plan", hint="give each feature once", code="order.plan")
    with UnitOfWork(settings.database_url) as uow:
        o = uow.orders.get(order_id, who.organisation_id)
        if o is None:
            raise NotFoundError(f"order {order_id!r} not found", code="order.not_found")
        ln = next((x for x in o.lines if x.id == line_id), None)
        if ln is None:
            raise NotFoundError(f"order {order_id} has no line {line_id!r}", code="order.line_not_found")
        if ln.status in LOCKED:
            raise InputError(f"line {ln.position} is {ln.status.value}: its inspection plan can no longer change",
                             hint="a claim is the way after delivery", code="order.plan_locked", status=409)
        ln = uow.orders.update_line(ln.id, feature_plan=tuple(features))
        timeline.event(uow, o.id, ln.status, timeline.note("feature_plan", line=ln.position, n=len(features),
                                                           names=", ".join(names) or "—"),
                       who.user_id, line=ln)
        uow.commit()
        found = uow.orders.get(order_id)
    assert found is not None
    return found


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-9))


def _same(f: FeatureMeasurement, p: FeatureSpec) -> bool:
    """The measured feature's nominal and limits are the plan's (to 1e-9 mm: 5.00 ± 0.05 typed gives 4.95)."""
    return _close(f.nominal_mm, p.nominal_mm) and _close(f.lsl_mm, p.lsl_mm) and _close(f.usl_mm, p.usl_mm)


def plan_line(p: FeatureSpec, with_values: bool = False) -> str:
    """A planned feature as the forms write it: ``bore_d 5.00 ± 0.05`` (or ``+0.02 -0.01``; one limit: ``<= 5.05`` /
    ``>= 4.95``); with `with_values`, the factory's measurement line to fill in, ``bore_d = | 5.00 ± 0.05``."""
    if p.lsl_mm is not None and p.usl_mm is not None:
        up, down = p.usl_mm - p.nominal_mm, p.nominal_mm - p.lsl_mm
        tol = f"± {up:g}" if math.isclose(up, down, abs_tol=1e-9) else f"+{up:g} -{down:g}"
    else:
        tol = f"<= {p.usl_mm:g}" if p.usl_mm is not None else f">= {p.lsl_mm:g}"
    return f"{p.name} = | {p.nominal_mm:g} {tol}" if with_values else f"{p.name} {p.nominal_mm:g} {tol}"


def against_plan(plan: Sequence[FeatureSpec], features: Sequence[FeatureMeasurement]) -> None:
    """Refuse an inspection that leaves out a planned feature or measures one against other limits than the plan's
    (422, naming them); features outside the plan are the factory's own and are kept."""
    if not plan:
        return
    given = {f.name: f for f in features}
    missing = [p.name for p in plan if p.name not in given]
    if missing:
        raise InputError(f"the order's inspection plan asks for {', '.join(missing)}, not measured",
                         hint="measure every planned feature against its tolerance", code="order.plan_missing")
    other = [p.name for p in plan if not _same(given[p.name], p)]
    if other:
        raise InputError(f"{', '.join(other)}: measured against other limits than the order's plan",
                         hint="use the nominal and limits the plan gives", code="order.plan_limits")
