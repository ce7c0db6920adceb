"""Price of an estimate at a site: machine-hour rate, energy, material, labour, setup, overhead, margin.

Every rate comes from the catalog (machine price and life, maintenance, material price), the site
(labour, electricity tariff) and costing.yaml (overhead, margin, setup, quantity breaks, minimum
charge). Pure functions; depends on domain and costing only.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabgrid.costing.postprocess import PostProcess
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import MachineModel, Material, Site
from fabgrid.domain.quote import Estimate


@dataclass(frozen=True)
class Price:
    """Money per part (CNY) by cost element, and the line total."""

    quantity: int
    machine_cny: float
    energy_cny: float
    material_cny: float
    labour_cny: float
    setup_cny: float
    consumables_cny: float
    direct_cny: float
    overhead_cny: float
    margin_cny: float
    unit_cny: float
    total_cny: float
    minimum_cny: float
    minimum_applied: bool
    #: the site's own finishing prices per part (its storefront), after overhead and margin
    finish_cny: float = 0.0

    def tier_unit_cny(self, price_factor: float) -> float:
        """Unit price of a lead-time tier: the tier factor on the cost-based price, then the minimum."""
        qty = max(self.quantity, 1)
        base = self.direct_cny + self.overhead_cny + self.margin_cny + self.finish_cny
        return max(base * price_factor, self.minimum_cny / qty)

    def as_dict(self) -> dict[str, float]:
        """Figures as a flat dict (booleans as 0/1; the site's own finishing prices only where it has some)."""
        return {k: float(v) for k, v in vars(self).items() if k != "finish_cny" or v}


def machine_rate_cny_per_h(machine: MachineModel, rates: Rates) -> float:
    """Depreciation (price over life hours) plus maintenance per productive hour."""
    productive_h = rates.price.hours_per_year * rates.price.machine_utilisation
    return machine.price_cny / machine.lifetime_h + machine.maintenance_cny_per_year / productive_h


def price_estimate(est: Estimate, machine: MachineModel, material: Material, site: Site, post: PostProcess,
                   rates: Rates) -> Price:
    """The price per part and for the line of `est.quantity` copies at `site`."""
    p = rates.price
    qty = est.quantity
    # a site's own machine-hour rate for the model (set by the factory) replaces the catalog-derived one
    rate_h = site.machine_rates_cny_per_h.get(machine.id) or machine_rate_cny_per_h(machine, rates)
    machine_cny = est.time_s / 3600.0 * rate_h
    energy_cny = est.energy_kwh * site.electricity_cny_per_kwh
    material_cny = est.material_g / 1000.0 * material.price_cny_per_kg * (1.0 + site.material_markup)
    handling_s = p.handling_min_per_part[est.process] * 60.0
    # a finish the site prices itself: its price per part instead of that step's costed labour and consumables
    post_op_s, post_cons, own_finish = post.priced_by(site.finishes_cny) if site.finishes_cny else (
        post.operator_s, post.consumables_cny, 0.0)
    labour_s = est.operator_s + handling_s + post_op_s * p.finish_labour_share
    labour_cny = labour_s / 3600.0 * site.labour_cny_per_h
    setup_cny = p.setup_min[est.process] * 60.0 / qty / 3600.0 * site.labour_cny_per_h
    extras = est.details.get("plate_cny_share", 0.0)
    consumables = post_cons + extras
    direct = machine_cny + energy_cny + material_cny + labour_cny + setup_cny + consumables
    overhead = direct * p.overhead_pct / 100.0
    margin = (direct + overhead) * p.margin_pct / 100.0 * p.margin_factor(qty)
    unit = direct + overhead + margin + own_finish
    total = unit * qty
    minimum = max(p.minimum_order_cny[est.process], site.minimum_order_cny)
    applied = total < minimum
    if applied:
        total = minimum
        unit = total / qty
    return Price(quantity=qty, machine_cny=machine_cny, energy_cny=energy_cny, material_cny=material_cny,
                 labour_cny=labour_cny, setup_cny=setup_cny, consumables_cny=consumables, direct_cny=direct,
                 overhead_cny=overhead, margin_cny=margin, unit_cny=unit, total_cny=total,
                 minimum_cny=minimum, minimum_applied=applied, finish_cny=own_finish)
