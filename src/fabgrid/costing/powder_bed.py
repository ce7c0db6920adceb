"""SLS and MJF process model: a build's layer time shared by every part in it, by packed volume.

The whole build pays warm-up, recoating/fusing of every layer and cool-down; a part pays the share of
the build height its packed volume takes plus its own laser scan (SLS). Powder use includes the aged
cake replaced at the material's refresh ratio. Depends on domain and costing only.
"""

from __future__ import annotations

import math

from fabgrid.costing.base import register
from fabgrid.costing.part import Part
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import MachineModel, Material, ProcessFamily
from fabgrid.domain.quote import Estimate

_S = "powder_bed"


class PowderBedModel:
    """Polymer powder bed fusion: SLS (laser) and MJF (agent jetting + IR fusing)."""

    families: tuple[ProcessFamily, ...] = (ProcessFamily.SLS, ProcessFamily.MJF)

    def estimate(self, part: Part, machine: MachineModel, material: Material, quantity: int,
                 rates: Rates) -> Estimate:
        """Time, powder and energy of `quantity` copies packed in shared builds."""
        layer_mm = machine.default_layer_height_mm or rates.number(_S, "layer_height_mm")
        bx, by, bz = machine.build_volume_mm
        density = rates.number(_S, "packing_density")
        if machine.process is ProcessFamily.MJF:
            layer_s = rates.machine_param(_S, machine, "fusing_s_per_layer")
            scan_s = 0.0
        else:
            layer_s = rates.machine_param(_S, machine, "recoat_s_per_layer")
            speed = rates.machine_param(_S, machine, "scan_speed_mm_s")
            hatch = rates.machine_param(_S, machine, "hatch_mm")
            lasers = max(rates.machine_param(_S, machine, "laser_count"), 1.0)
            scan_s = part.solid_volume_mm3 / (hatch * layer_mm * speed * lasers)
        warmup = rates.machine_param(_S, machine, "warmup_s")
        cool_per_mm = float(machine.params.get("cooldown_s_per_mm", 0.0))
        # height of build the part takes when packed at the typical density
        height_share_mm = part.solid_volume_mm3 / (density * bx * by)
        layers_s = height_share_mm / layer_mm * layer_s
        cooldown_s = cool_per_mm * height_share_mm
        build_frac = part.solid_volume_mm3 / (density * bx * by * bz)
        time_s = layers_s + scan_s + warmup * build_frac
        builds = max(math.ceil(quantity * build_frac), 1)
        job_s = quantity * (layers_s + scan_s) + builds * warmup
        rho = material.density_g_cm3 / 1000.0
        part_g = part.solid_volume_mm3 * rho
        refresh = material.refresh_ratio if material.refresh_ratio is not None else 0.5
        powder_g = part_g * (1.0 + rates.number(_S, "cake_factor") * refresh)
        energy = ((layers_s + scan_s) * machine.power.producing_w + cooldown_s * machine.power.idle_w
                  + warmup * build_frac * machine.power.setup_w) / 3.6e6
        return Estimate(
            process=machine.process, machine_model=machine.id, material=material.id, quantity=quantity,
            time_s=time_s, job_time_s=job_s, builds=builds, material_g=powder_g, part_g=part_g, support_g=0.0,
            energy_kwh=energy, operator_s=0.0, setup_s=0.0,
            details={"height_share_mm": height_share_mm, "layers_s": layers_s, "scan_s": scan_s,
                     "warmup_share_s": warmup * build_frac, "cooldown_share_s": cooldown_s,
                     "build_fraction": build_frac, "refresh_ratio": refresh},
        )


register(PowderBedModel())
