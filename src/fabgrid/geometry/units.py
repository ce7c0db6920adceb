"""Length units of part files: names, scale to mm, and the size heuristic for unit-less STL/OBJ files.

Pure functions; depends only on `fabgrid.errors`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fabgrid.errors import InputError

#: Scale from a unit to mm (3MF names and the short names of the CLI).
UNIT_TO_MM: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "inch": 25.4, "ft": 304.8, "um": 0.001}

_ALIASES = {
    "millimeter": "mm", "millimetre": "mm", "mm": "mm",
    "centimeter": "cm", "centimetre": "cm", "cm": "cm",
    "meter": "m", "metre": "m", "m": "m",
    "inch": "inch", "in": "inch", "inches": "inch",
    "foot": "ft", "feet": "ft", "ft": "ft",
    "micron": "um", "micrometer": "um", "um": "um",
}

#: Below this largest extent (mm) a unit-less part is suspiciously small for a part in mm.
SMALL_PART_MM = 8.0


def normalise_unit(name: str) -> str:
    """The canonical unit name (mm, cm, m, inch, ft, um) of a unit name or alias."""
    key = name.strip().lower()
    if key not in _ALIASES:
        raise InputError(f"unknown unit '{name}'", hint="use one of mm, inch, m, cm, um (3MF: millimeter, "
                         "inch, meter, centimeter, micron, foot)", code="mesh.units")
    return _ALIASES[key]


#: Largest extents (mm) a made-to-order part plausibly has: from a small bracket to about a metre (the
#: largest build envelopes and machining tables of the network are under 1 m).
PLAUSIBLE_MIN_MM = 5.0
PLAUSIBLE_MAX_MM = 1000.0
#: A typical largest extent (mm) of a part quoted on the platform: among plausible readings the one whose
#: size is nearest to it (on a log scale) wins.
TYPICAL_PART_MM = 60.0
#: A unit-less file is read in the guessed unit without being asked (the loader's `guess`) only when, read as
#: mm, its mean thickness (2 x volume / area: the wall of a plate, a third of a cube's side) is under this:
#: the thinnest minimum walls of the processes are 0.4-0.8 mm (processes.yaml), and a part's mean thickness
#: is well above its thinnest wall, so a mean under 0.5 mm is no part in mm. A 5 x 6 x 7 mm block (mean 2 mm)
#: stays in mm; featuretype.STL (5 x 2.5 x 1.4, mean 0.43, walls of 0.03) is read in inch.
GUESS_MAX_THICKNESS_MM = 0.5
#: The readings tried for a unit-less file that is implausibly small in mm.
GUESS_UNITS = ("inch", "m")


@dataclass(frozen=True)
class UnitGuess:
    """The likelier unit of a unit-less file: `unit`, its `scale` to mm, the largest extent it gives (mm)
    and `reason`, the readings compared in words (English; pages translate from the fields)."""

    unit: str
    scale: float
    max_extent_mm: float
    readings_mm: dict[str, float]
    reason: str


def guess_unit(max_extent_mm: float) -> UnitGuess | None:
    """For a unit-less file read as mm, the reading whose size is plausible for a part, when the mm reading
    is implausibly small (largest extent under SMALL_PART_MM); None when mm is plausible or nothing is.

    Each reading of GUESS_UNITS scales the largest extent; those within PLAUSIBLE_MIN_MM..PLAUSIBLE_MAX_MM
    compete and the one nearest TYPICAL_PART_MM (log scale) wins: 1.35 read as inch is 34 mm, as m 1,352 mm
    (bigger than any build envelope), so inch.
    """
    if max_extent_mm <= 0 or max_extent_mm >= SMALL_PART_MM:
        return None
    readings = {u: max_extent_mm * UNIT_TO_MM[u] for u in GUESS_UNITS}
    plausible = {u: s for u, s in readings.items() if PLAUSIBLE_MIN_MM <= s <= PLAUSIBLE_MAX_MM}
    if not plausible:
        return None
    unit = min(plausible, key=lambda u: abs(math.log(plausible[u] / TYPICAL_PART_MM)))
    words = ", ".join(f"in {u} {s:,.4g} mm" + ("" if u in plausible else " (not plausible)")
                      for u, s in readings.items())
    reason = (f"read as mm the largest side is {max_extent_mm:.4g} mm, under {SMALL_PART_MM:g} mm; {words}; "
              f"{unit} gives the size nearest a typical part ({PLAUSIBLE_MIN_MM:g}-{PLAUSIBLE_MAX_MM:g} mm)")
    return UnitGuess(unit=unit, scale=UNIT_TO_MM[unit], max_extent_mm=plausible[unit], readings_mm=readings,
                     reason=reason)


def implausible_in_mm(max_extent_mm: float, mean_thickness_mm: float) -> bool:
    """Whether a unit-less part read as mm is so small and thin that no process could make it: largest side
    under SMALL_PART_MM and mean thickness (2 V / A) under GUESS_MAX_THICKNESS_MM."""
    return 0 < max_extent_mm < SMALL_PART_MM and 0 <= mean_thickness_mm < GUESS_MAX_THICKNESS_MM


def guess_units(max_extent_mm: float) -> tuple[str, float] | None:
    """(unit, scale) of `guess_unit`, or None."""
    g = guess_unit(max_extent_mm)
    return None if g is None else (g.unit, g.scale)
