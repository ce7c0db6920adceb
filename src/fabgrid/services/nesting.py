"""Use case of packing part files into the builds of a machine model and writing each build as 3MF and PNG.
Thin glue over the nesting engine (`fabgrid.nesting`) with the shipped catalog handed in; never imports
api, web or cli.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fabgrid.domain.build import Build
from fabgrid.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from fabgrid.nesting.parts import NestPart


@dataclass(frozen=True)
class NestResult:
    """The builds found on `machine` and, per build, the files written (``{"3mf": path, "png": path}``)."""

    machine: str
    builds: list[Build]
    files: list[dict[str, str]]


def numbered(path: Path, index: int, count: int) -> Path:
    """`build.3mf` for a single build, else `build-1.3mf`, `build-2.3mf`, ..."""
    return path if count == 1 else path.with_name(f"{path.stem}-{index}{path.suffix}")


def load_part(path: str | Path, copies: int = 1, name: str | None = None) -> NestPart:
    """Read a part file (any format of `geometry.formats`) as one part to nest, in mm; all its objects
    together."""
    from fabgrid.geometry.load import load_path
    from fabgrid.nesting.parts import nest_part

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"part file {p} does not exist", hint="give the path of a mesh file",
                            code="nest.part_missing")
    return nest_part(load_path(p), name or p.stem, copies, source=str(p))


def load_parts(paths: Sequence[str | Path], copies: Mapping[str, int] | None = None) -> list[NestPart]:
    """Load every path; `copies` is looked up by the names of `nesting.parts.part_names`."""
    from fabgrid.nesting.parts import part_names

    if not paths:
        raise InputError("no part files given", hint="fabgrid nest PART.stl ... --machine MODEL",
                         code="nest.no_parts")
    return [load_part(p, (copies or {}).get(n, 1), name=n) for p, n in zip(paths, part_names(paths), strict=True)]


def nest_files(parts: Sequence[Path], machine: str, *, copies: Sequence[str] = (), spacing_mm: float | None = None,
               time_limit_s: float | None = None, seed: int = 0, out: Path | None = None,
               png: Path | None = None) -> NestResult:
    """Pack the part files (with `copies`: ``N`` or ``PART:N`` specs) into builds of machine model `machine`;
    write each build as 3MF to `out` and as a picture to `png` (numbered when there are several)."""
    from fabgrid.nesting import nest
    from fabgrid.nesting.export import write_3mf, write_png
    from fabgrid.nesting.parts import parse_copies, part_names
    from fabgrid.services.catalog import shipped_catalog

    catalog = shipped_catalog()
    models = catalog.machine_models
    if machine not in models:
        raise NotFoundError(f"unknown machine model {machine!r}", hint=f"known: {', '.join(sorted(models))}",
                            code="nest.machine")
    names = part_names(parts)
    loaded = load_parts(parts, parse_copies(copies, names))
    for target in (out, png):
        if target is not None and not target.parent.is_dir():
            raise InputError(f"folder {target.parent} of {target} does not exist", hint="create it first",
                             code="nest.out_dir")
    model = models[machine]
    builds = nest(loaded, model, catalog.processes[model.process], spacing_mm=spacing_mm,
                  time_limit_s=time_limit_s, seed=seed)
    files: list[dict[str, str]] = []
    for i, b in enumerate(builds, start=1):
        entry: dict[str, str] = {}
        if out is not None:
            entry["3mf"] = str(write_3mf(b, loaded, numbered(out, i, len(builds))))
        if png is not None:
            entry["png"] = str(write_png(b, loaded, numbered(png, i, len(builds))))
        files.append(entry)
    return NestResult(machine=machine, builds=list(builds), files=files)
