"""SLA / MSLA process model: layers x (exposure + peel/recoat), resin with supports and waste.

Copies on one plate share the layers (a masked-LCD exposes the whole layer at once; a laser scans
each part's area). Depends on domain, costing and geometry.slice; never on store, services or api.
"""

from __future__ import annotations

import math

from fabgrid.costing.base import register, setup_energy_kwh
from fabgrid.costing.part import Part, part_layers
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import MachineModel, Material, ProcessFamily
from fabgrid.domain.quote import Estimate
from fabgrid.geometry.slice import SliceSettings

_S = "sla"


def copies_per_plate(part: Part, machine: MachineModel, gap_mm: float = 5.0) -> int:
    """Copies side by side on the build platform (bounding boxes with a gap)."""
    x, y, _ = part.bbox_mm
    bx, by, _ = machine.build_volume_mm
    return max(int((bx + gap_mm) // (x + gap_mm)) * int((by + gap_mm) // (y + gap_mm)), 1)


class SlaModel:
    """Vat photopolymerisation (laser SLA and masked-LCD MSLA)."""

    families: tuple[ProcessFamily, ...] = (ProcessFamily.SLA,)

    def estimate(self, part: Part, machine: MachineModel, material: Material, quantity: int,
                 rates: Rates) -> Estimate:
        """Time, resin and energy of `quantity` copies on `machine`."""
        layer_mm = machine.default_layer_height_mm or rates.number(_S, "layer_height_mm")
        exposure = rates.machine_param(_S, machine, "exposure_s_per_layer")
        per_cm2 = float(machine.params.get("exposure_s_per_cm2", 0.0))
        peel = rates.machine_param(_S, machine, "peel_recoat_s_per_layer")
        heatup = float(machine.params.get("heatup_s", rates.machine_param(_S, machine, "warmup_s")))
        base = rates.number(_S, "base_layers")
        support_f = rates.number(_S, "support_resin_factor")
        stack = part_layers(part, SliceSettings(layer_height_mm=layer_mm, contours=False, supports=False))
        layers = stack.n_layers + base
        # laser machines scan each copy's area; a masked LCD exposes a layer in fixed time
        scan_s = per_cm2 * float(stack.area_mm2.sum()) / 100.0 * (1.0 + support_f)
        plate_layers_s = layers * (exposure + peel)
        cap = copies_per_plate(part, machine)
        share = min(quantity, cap)
        time_s = plate_layers_s / share + scan_s + heatup / share
        plates = math.ceil(quantity / cap)
        job_s = plates * (plate_layers_s + heatup) + quantity * scan_s
        resin_mm3 = part.solid_volume_mm3 * (1.0 + support_f) * (1.0 + rates.number(_S, "waste_factor"))
        rho = material.density_g_cm3 / 1000.0
        energy = (time_s - heatup / share) * machine.power.producing_w / 3.6e6 \
            + setup_energy_kwh(machine, heatup) / share
        return Estimate(
            process=ProcessFamily.SLA, machine_model=machine.id, material=material.id, quantity=quantity,
            time_s=time_s, job_time_s=job_s, builds=plates, material_g=resin_mm3 * rho,
            part_g=part.solid_volume_mm3 * rho, support_g=part.solid_volume_mm3 * support_f * rho, energy_kwh=energy,
            operator_s=0.0, setup_s=0.0,
            details={"layers": float(layers), "layer_mm": layer_mm, "plate_layers_s": plate_layers_s,
                     "scan_s": scan_s, "heatup_s": heatup, "copies_per_plate": float(cap)},
        )


register(SlaModel())
