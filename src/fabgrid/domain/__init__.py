"""Typed records shared by every engine. Pydantic v2 models; no I/O, no database, no web."""

from fabgrid.domain.catalog import (
    Calendar,
    Catalog,
    Finish,
    Machine,
    MachineModel,
    Material,
    Network,
    PowerDraw,
    Process,
    ProcessFamily,
    QualityRecord,
    Shift,
    Site,
    Station,
)

__all__ = [
    "Calendar",
    "Catalog",
    "Finish",
    "Machine",
    "MachineModel",
    "Material",
    "Network",
    "PowerDraw",
    "Process",
    "ProcessFamily",
    "QualityRecord",
    "Shift",
    "Site",
    "Station",
]
