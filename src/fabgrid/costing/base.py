"""Registry of process models: one module per process family registers its estimator here.

A process model turns (part, machine model, material, quantity) into an `Estimate`. Adding a
process means writing one module that calls `register`. Depends on domain and costing.rates only.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from fabgrid.costing.part import Part
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import MachineModel, Material, ProcessFamily
from fabgrid.domain.quote import Estimate
from fabgrid.errors import InputError


class ProcessModel(Protocol):
    """Estimates time, material and energy of a part on one machine model."""

    families: tuple[ProcessFamily, ...]

    def estimate(self, part: Part, machine: MachineModel, material: Material, quantity: int,
                 rates: Rates) -> Estimate:
        """The estimate for `quantity` copies of `part`."""
        ...


_REGISTRY: dict[ProcessFamily, ProcessModel] = {}


def register(model: ProcessModel) -> ProcessModel:
    """Register `model` for each of its families (a later registration replaces an earlier one)."""
    for family in model.families:
        _REGISTRY[family] = model
    return model


def model_for(family: ProcessFamily) -> ProcessModel:
    """The registered process model of `family`."""
    _load_builtin()
    try:
        return _REGISTRY[family]
    except KeyError:
        raise InputError(f"no costing model is registered for process {family.value!r}",
                         code="costing.no_model") from None


def estimate(part: Part, machine: MachineModel, material: Material, quantity: int,
             rates: Rates) -> Estimate:
    """Estimate `quantity` copies of `part` on `machine` in `material` with the registered model."""
    if quantity < 1:
        raise InputError(f"quantity must be >= 1, got {quantity}", code="costing.quantity")
    if material.process is not machine.process:
        raise InputError(f"material {material.id!r} is for {material.process.value}, machine "
                         f"{machine.id!r} is {machine.process.value}", code="costing.material_process")
    return model_for(machine.process).estimate(part, machine, material, quantity, rates)


_DISCOVERED = False


def _load_builtin() -> None:
    """Import every module of the costing package once: a module that defines a process model registers
    it on import (like the CLI's commands, nothing lists them); done lazily, so no import circle."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    import importlib
    import pkgutil

    import fabgrid.costing as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package.__name__}.{info.name}")
    _DISCOVERED = True


def trapezoid_time_s(length_mm: NDArray[np.float64] | float, segments: NDArray[np.float64] | float,
                     speed_mm_s: NDArray[np.float64] | float, accel_mm_s2: float,
                     junction_mm_s: float) -> NDArray[np.float64]:
    """Time to move `length_mm` split in `segments` equal moves with a trapezoidal speed profile.

    Each move starts and ends at `junction_mm_s`, accelerates at `accel_mm_s2` up to `speed_mm_s`
    (a triangle profile when the move is too short to reach it). Arrays broadcast.
    """
    length = np.asarray(length_mm, dtype=np.float64)
    n = np.maximum(np.asarray(segments, dtype=np.float64), 1.0)
    v = np.maximum(np.asarray(speed_mm_s, dtype=np.float64), 1e-6)
    v0 = np.minimum(junction_mm_s, v)
    seg = length / n
    d_acc = (v * v - v0 * v0) / (2.0 * accel_mm_s2)
    full = seg >= 2.0 * d_acc
    t_full = 2.0 * (v - v0) / accel_mm_s2 + (seg - 2.0 * d_acc) / v
    v_peak = np.sqrt(accel_mm_s2 * seg + v0 * v0)
    t_tri = 2.0 * (v_peak - v0) / accel_mm_s2
    t = np.where(full, t_full, t_tri)
    return np.asarray(np.where(length > 0, n * t, 0.0), dtype=np.float64)


def setup_energy_kwh(machine: MachineModel, setup_s: float) -> float:
    """Energy of a machine during `setup_s` seconds of heat-up / preparation."""
    return machine.power.setup_w * setup_s / 3.6e6
