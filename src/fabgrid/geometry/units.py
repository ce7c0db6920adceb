"""Length units of part files: names, scale to mm, and the size heuristic for unit-less STL/OBJ files.

Pure functions; depends only on `fabgrid.errors`.
"""

from __future__ import annotations

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
#: Below this largest extent (mm) a unit-less part is more likely in metres than in inches.
METRE_PART_MM = 2.0


def normalise_unit(name: str) -> str:
    """The canonical unit name (mm, cm, m, inch, ft, um) of a unit name or alias."""
    key = name.strip().lower()
    if key not in _ALIASES:
        raise InputError(f"unknown unit '{name}'", hint="use one of mm, inch, m, cm, um (3MF: millimeter, "
                         "inch, meter, centimeter, micron, foot)", code="mesh.units")
    return _ALIASES[key]


def guess_units(max_extent_mm: float) -> tuple[str, float] | None:
    """For a unit-less file read as mm, the likelier unit and its scale when the part is implausibly small.

    A part whose largest extent is under 2 mm is more likely in metres (x1000); under 8 mm more
    likely in inches (x25.4). Returns None when mm is plausible.
    """
    if max_extent_mm <= 0:
        return None
    if max_extent_mm < METRE_PART_MM and max_extent_mm * 1000.0 <= 2000.0:
        return "m", 1000.0
    if max_extent_mm < SMALL_PART_MM:
        return "inch", 25.4
    return None
