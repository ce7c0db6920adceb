"""Use case "analyse a part file": load it (limits, units), run the intake pipeline with the catalog's
process rules and the network's machine models, return the report the API, CLI and quote use.

Reads the catalog through `fabgrid.data`; no database needed. Called by the API and `fabgrid analyze`.
"""

from __future__ import annotations

from pathlib import Path

from fabgrid.domain.catalog import Catalog, ProcessFamily
from fabgrid.domain.geometry import PartReport
from fabgrid.domain.part import Part
from fabgrid.errors import InputError
from fabgrid.geometry import limits
from fabgrid.geometry.load import load_bytes, load_path
from fabgrid.geometry.report import Options, analyze_loaded


def _processes(catalog: Catalog, process: str | None) -> list[ProcessFamily]:
    if process is None:
        return list(catalog.processes)
    known = [p.value for p in catalog.processes]
    key = process.strip().lower()
    if key not in known:
        raise InputError(f"--process {process!r} is not a process of the catalog",
                         hint=f"use one of: {', '.join(known)}", code="analysis.unknown_process")
    return [ProcessFamily(key)]


def analyze_file(path_or_bytes: str | Path | bytes, filename: str | None = None, process: str | None = None,
                 units: str | None = None, repair: bool = False, per_body: bool = False,
                 catalog: Catalog | None = None, time_budget_s: float = limits.ANALYSIS_TIME_S,
                 thickness_samples: int = limits.THICKNESS_SAMPLES) -> PartReport:
    """Analyse a part given as a path or as bytes (then `filename` names it and gives its format).

    `process` restricts DFM to one process family (default: every process of the catalog); `units`
    (mm, inch, m, cm, um) overrides the file's unit; `repair` fixes simple defects first and reports
    them; `per_body` adds one report per body. Raises InputError / LimitError on bad input.
    """
    return analyze_with_part(path_or_bytes, filename, process, units, repair, per_body, catalog, time_budget_s,
                             thickness_samples)[0]


def analyze_with_part(path_or_bytes: str | Path | bytes, filename: str | None = None, process: str | None = None,
                      units: str | None = None, repair: bool = False, per_body: bool = False,
                      catalog: Catalog | None = None, time_budget_s: float = limits.ANALYSIS_TIME_S,
                      thickness_samples: int = limits.THICKNESS_SAMPLES) -> tuple[PartReport, Part]:
    """`analyze_file` that also returns the loaded part (with the facts the analysis computed on it), for
    a caller that goes on to quote it without loading the file again."""
    if catalog is None:
        from fabgrid.data import load_catalog

        catalog = load_catalog()
    families = _processes(catalog, process)
    if isinstance(path_or_bytes, bytes | bytearray):
        if not filename:
            raise InputError("a part given as bytes needs its filename (for the format)",
                             hint="pass filename='part.stl'", code="mesh.filename")
        name = filename
        budget = limits.Budget(time_budget_s, name)
        mesh = load_bytes(bytes(path_or_bytes), filename, units=units)
    else:
        name = filename or Path(path_or_bytes).name
        budget = limits.Budget(time_budget_s, name)
        mesh = load_path(path_or_bytes, units=units)
        mesh.name = name
    load_s = budget.elapsed_s()
    budget.check("load")
    procs = [catalog.processes[f] for f in families]
    machines = [m for m in catalog.machine_models.values() if m.process in families]
    opts = Options(repair=repair, per_body=per_body, thickness_samples=thickness_samples)
    report = analyze_loaded(mesh, procs, machines, opts, budget)
    return report.model_copy(update={"timings_s": {"load": load_s, **report.timings_s,
                                                   "total": budget.elapsed_s()}}), mesh
