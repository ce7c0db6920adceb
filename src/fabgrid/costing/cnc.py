"""CNC milling model: stock from the bounding box, roughing by removal volume, finishing by area, setups.

Roughing rate = spindle power x share used / the material's specific cutting energy; finishing by
surface area; one setup per two sides, more sides for parts far from convex. Depends on domain and
costing only.
"""

from __future__ import annotations

from fabgrid.costing.base import register, setup_energy_kwh
from fabgrid.costing.part import Part
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import MachineModel, Material, ProcessFamily
from fabgrid.domain.quote import Estimate

_S = "cnc"


def sides_to_machine(part: Part) -> int:
    """Sides to reach: 2 for near-convex parts, up to 6 for pocketed / undercut shapes."""
    solidity = part.solid_volume_mm3 / max(part.hull_volume_mm3, 1e-9)
    if solidity > 0.7:
        return 2
    if solidity > 0.4:
        return 4
    return 6


class CncModel:
    """3-axis CNC milling from rectangular stock."""

    families: tuple[ProcessFamily, ...] = (ProcessFamily.CNC,)

    def estimate(self, part: Part, machine: MachineModel, material: Material, quantity: int,
                 rates: Rates) -> Estimate:
        """Machine time, stock and energy of `quantity` copies."""
        num = rates.number
        allowance = num(_S, "stock_allowance_mm")
        x, y, z = (d + 2 * allowance for d in part.bbox_mm)
        stock_mm3 = x * y * z
        removal_mm3 = max(stock_mm3 - part.solid_volume_mm3, 0.0)
        energy_j_mm3 = material.properties.get("specific_cutting_energy_j_mm3",
                                               num(_S, "default_specific_cutting_energy_j_mm3"))
        e_j = float(energy_j_mm3) if isinstance(energy_j_mm3, int | float) else 2.0
        spindle_w = rates.machine_param(_S, machine, "spindle_kw") * 1000.0
        rough_s = removal_mm3 * e_j / (spindle_w * num(_S, "roughing_power_share"))
        finish_mm2_s = num(_S, "finish_cm2_per_min_j_mm3") / e_j * 100.0 / 60.0
        finish_s = part.area_mm2 / finish_mm2_s
        setups = -(-sides_to_machine(part) // int(num(_S, "sides_per_setup")))
        tool_s = setups * num(_S, "tools_per_setup") * rates.machine_param(_S, machine, "tool_change_s")
        cycle_s = rough_s + finish_s + tool_s
        setup_s = setups * num(_S, "setup_s")
        time_s = cycle_s + setup_s / quantity
        rho = material.density_g_cm3 / 1000.0
        energy = (cycle_s * machine.power.producing_w / 3.6e6 + setup_energy_kwh(machine, setup_s) / quantity)
        return Estimate(
            process=ProcessFamily.CNC, machine_model=machine.id, material=material.id, quantity=quantity,
            time_s=time_s, job_time_s=quantity * cycle_s + setup_s, builds=1, material_g=stock_mm3 * rho,
            part_g=part.solid_volume_mm3 * rho, support_g=0.0, energy_kwh=energy, operator_s=0.0,
            setup_s=setup_s / quantity,
            details={"stock_mm3": stock_mm3, "removal_mm3": removal_mm3, "roughing_s": rough_s,
                     "finishing_s": finish_s, "tool_change_s": tool_s, "setups": float(setups)},
        )


register(CncModel())
