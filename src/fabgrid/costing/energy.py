"""Energy and carbon per part: machine energy at the site's grid factor, material embodied carbon, shipping.

Pure functions over an estimate; factors come from the site (grid kg CO2e/kWh), the material
(embodied kg CO2e/kg) and logistics (road freight). Depends on domain only.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabgrid.domain.catalog import Material, Site
from fabgrid.domain.quote import Estimate


@dataclass(frozen=True)
class Carbon:
    """kg CO2e per part by source."""

    machine_co2_kg: float
    material_co2_kg: float
    shipping_co2_kg: float

    @property
    def total_co2_kg(self) -> float:
        """Sum of the sources."""
        return self.machine_co2_kg + self.material_co2_kg + self.shipping_co2_kg


def carbon(est: Estimate, material: Material, site: Site, shipping_co2_kg: float = 0.0) -> Carbon:
    """CO2e per part of `est` made at `site` (machine energy x grid factor + feedstock + shipping)."""
    return Carbon(
        machine_co2_kg=est.energy_kwh * site.grid_co2_kg_per_kwh,
        material_co2_kg=est.material_g / 1000.0 * material.embodied_co2_kg_per_kg,
        shipping_co2_kg=shipping_co2_kg,
    )
