"""Metal laser powder bed fusion model: scan time by volume and layer, supports, plate, stress relief.

Parts sit on a shared build plate: recoating of every layer, inert-gas purge, plate preparation,
stress relief and plate resurfacing are shared by the copies on the plate; scanning of the part and
its supports and the removal from the plate are per part. Depends on domain, costing, geometry.slice.
"""

from __future__ import annotations

import math

import numpy as np

from fabgrid.costing.base import register, setup_energy_kwh
from fabgrid.costing.part import Part, part_layers
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import MachineModel, Material, ProcessFamily
from fabgrid.domain.quote import Estimate
from fabgrid.geometry.slice import SliceSettings

_S = "metal_pbf"


def copies_per_plate(part: Part, machine: MachineModel, fill: float) -> int:
    """Copies that fit on the plate: usable plate area over the part's footprint."""
    x, y, _ = part.bbox_mm
    bx, by, _ = machine.build_volume_mm
    return max(int(fill * bx * by // max(x * y, 1e-9)), 1)


class MetalPbfModel:
    """Laser powder bed fusion of metals (SLM / DMLS)."""

    families: tuple[ProcessFamily, ...] = (ProcessFamily.METAL_PBF,)

    def estimate(self, part: Part, machine: MachineModel, material: Material, quantity: int,
                 rates: Rates) -> Estimate:
        """Time, powder and energy of `quantity` copies on `machine`."""
        num = rates.number
        layer_mm = rates.machine_param(_S, machine, "layer_um") / 1000.0
        speed = rates.machine_param(_S, machine, "scan_speed_mm_s")
        hatch = rates.machine_param(_S, machine, "hatch_mm")
        lasers = max(rates.machine_param(_S, machine, "laser_count"), 1.0)
        recoat = rates.machine_param(_S, machine, "recoat_s")
        contour_speed = rates.machine_param(_S, machine, "contour_speed_mm_s")
        purge = float(machine.params.get("inert_gas_s", 0.0))
        shadow = part_layers(part, SliceSettings(layer_height_mm=num(_S, "support_slice_mm"),
                                           overhang_angle_deg=num(_S, "overhang_angle_deg"), contours=False))
        support_mm3 = shadow.support_volume_mm3 * num(_S, "support_factor")
        melt_mm3 = part.solid_volume_mm3 + support_mm3 * num(_S, "support_density")
        surface = part.surface
        lateral = float((surface.areas_mm2 * np.linalg.norm(surface.normals[:, :2], axis=1)).sum())
        scan_s = melt_mm3 / (hatch * layer_mm * speed * lasers) + lateral / layer_mm / contour_speed / lasers
        layers = math.ceil(part.bbox_mm[2] / layer_mm)
        cap = copies_per_plate(part, machine, num(_S, "plate_fill"))
        share = min(quantity, cap)
        plate_s = layers * recoat + purge + num(_S, "plate_prep_s")
        time_s = scan_s + plate_s / share
        plates = math.ceil(quantity / cap)
        job_s = quantity * scan_s + plates * plate_s
        footprint_cm2 = part.bbox_mm[0] * part.bbox_mm[1] / 100.0
        removal_s = num(_S, "removal_s_per_cm2") * footprint_cm2
        rho = material.density_g_cm3 / 1000.0
        melt_g = melt_mm3 * rho
        energy = scan_s * machine.power.producing_w / 3.6e6 + (
            layers * recoat * machine.power.producing_w / 3.6e6 + setup_energy_kwh(machine, purge)) / share
        return Estimate(
            process=ProcessFamily.METAL_PBF, machine_model=machine.id, material=material.id,
            quantity=quantity, time_s=time_s, job_time_s=job_s, builds=plates,
            material_g=melt_g * (1.0 + num(_S, "powder_loss_factor")), part_g=part.solid_volume_mm3 * rho,
            support_g=melt_g - part.solid_volume_mm3 * rho, energy_kwh=energy, operator_s=removal_s,
            setup_s=num(_S, "plate_prep_s") / share,
            details={"scan_s": scan_s, "plate_s": plate_s, "layers": float(layers), "support_mm3": support_mm3,
                     "copies_per_plate": float(cap), "removal_s": removal_s,
                     "stress_relief_share_s": num(_S, "stress_relief_s") / share,
                     "plate_cny_share": num(_S, "plate_cny") / share},
        )


register(MetalPbfModel())
