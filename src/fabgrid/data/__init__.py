"""The shipped catalog and network: loads and validates the YAML files of this package.

`load_catalog()` / `load_network()` read the packaged data once (cached); `load_catalog_from(path)` /
`load_network_from(path)` read a directory with the same files (tests, custom networks). Depends only
on `fabgrid.domain` and `fabgrid.errors`; no database, no web.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from fabgrid.domain.catalog import (
    Catalog,
    Finish,
    MachineModel,
    Material,
    Network,
    Process,
    Record,
    Site,
)
from fabgrid.errors import InputError

__all__ = [
    "Province",
    "load_catalog",
    "load_catalog_from",
    "load_network",
    "load_network_from",
    "load_provinces",
    "load_station_kinds",
]

CODE = "data.invalid"
_HINT = "fix the named key in the data file (see the file's header for units and sources)"

M = TypeVar("M", bound=BaseModel)
# libyaml's parser is ~10x faster than the pure-Python one; both give the same documents.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Province(Record):
    """Electricity tariff and grid emission factor of one province (from provinces.yaml)."""

    id: str
    name_zh: str
    electricity_cny_per_kwh: float = Field(gt=0, lt=5)
    grid_co2_kg_per_kwh: float = Field(ge=0, lt=2)
    tariff_source: str


_DATES: TypeAdapter[list[date]] = TypeAdapter(list[date])


def _fail(file: str, key: str, problem: str) -> InputError:
    return InputError(f"{file}: {key}: {problem}", hint=_HINT, code=CODE)


def _loc(prefix: str, loc: Sequence[int | str]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _read(root: Traversable | Path, file: str) -> dict[str, Any]:
    """Parse one YAML file of the data directory into its top-level mapping."""
    node = root / file
    if not node.is_file():
        raise InputError(f"{file}: file not found in {root}", hint="the data directory needs every file",
                         code=CODE)
    try:
        doc = yaml.load(node.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise _fail(file, where, f"YAML syntax error: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file}: YAML error: {exc}", hint=_HINT, code=CODE) from None
    if not isinstance(doc, dict):
        raise _fail(file, "<top>", "the file must hold a mapping")
    return doc


def _list(doc: Mapping[str, Any], file: str, key: str) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list):
        raise _fail(file, key, "missing or not a list")
    return value


def _validate(model: type[M], item: Any, file: str, key: str) -> M:
    """Validate one record; a ValidationError becomes an InputError naming file and key."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        errs = exc.errors()
        lines = [f"{_loc(key, e['loc'])}: {e['msg']}" for e in errs[:3]]
        more = f" (and {len(errs) - 3} more)" if len(errs) > 3 else ""
        raise InputError(f"{file}: " + "; ".join(lines) + more, hint=_HINT, code=CODE) from None


def _records(doc: Mapping[str, Any], file: str, key: str, model: type[M],
             prepare: Callable[[int, Any], Any] | None = None) -> list[M]:
    out: list[M] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(_list(doc, file, key)):
        if prepare is not None:
            item = prepare(i, item)
        rec = _validate(model, item, file, f"{key}[{i}]")
        rid = str(getattr(rec, "id"))  # noqa: B009 - every catalog record has an id
        if rid in seen:
            raise _fail(file, f"{key}[{i}].id", f"duplicate id {rid!r} (first at {key}[{seen[rid]}])")
        seen[rid] = i
        out.append(rec)
    return out


def _catalog_from(root: Traversable | Path) -> Catalog:
    processes = _records(_read(root, "processes.yaml"), "processes.yaml", "processes", Process)
    finishes = _records(_read(root, "finishes.yaml"), "finishes.yaml", "finishes", Finish)
    materials = _records(_read(root, "materials.yaml"), "materials.yaml", "materials", Material)
    models = _records(_read(root, "machine_models.yaml"), "machine_models.yaml", "machine_models",
                      MachineModel)
    proc_ids = {p.id for p in processes}
    finish_ids = {f.id for f in finishes}
    mat_by_id = {m.id: m for m in materials}
    for i, p in enumerate(processes):
        for j, step in enumerate(p.post_processing):
            if step not in finish_ids:
                raise _fail("processes.yaml", f"processes[{i}].post_processing[{j}]",
                            f"unknown finish {step!r} (finishes.yaml ids: {sorted(finish_ids)})")
    for i, f in enumerate(finishes):
        for j, fp in enumerate(f.processes):
            if fp not in proc_ids:
                raise _fail("finishes.yaml", f"finishes[{i}].processes[{j}]", f"unknown process {fp.value!r}")
    for i, m in enumerate(materials):
        if m.process not in proc_ids:
            raise _fail("materials.yaml", f"materials[{i}].process", f"unknown process {m.process.value!r}")
    for i, mm in enumerate(models):
        if mm.process not in proc_ids:
            raise _fail("machine_models.yaml", f"machine_models[{i}].process",
                        f"unknown process {mm.process.value!r}")
        if not mm.materials:
            raise _fail("machine_models.yaml", f"machine_models[{i}].materials", "empty: list what it runs")
        for j, mat_id in enumerate(mm.materials):
            mat = mat_by_id.get(mat_id)
            if mat is None:
                raise _fail("machine_models.yaml", f"machine_models[{i}].materials[{j}]",
                            f"unknown material {mat_id!r}")
            if mat.process is not mm.process:
                raise _fail("machine_models.yaml", f"machine_models[{i}].materials[{j}]",
                            f"material {mat_id!r} is for {mat.process.value}, the machine is "
                            f"{mm.process.value}")
    return Catalog(
        processes={p.id: p for p in processes},
        materials=mat_by_id,
        finishes={f.id: f for f in finishes},
        machine_models={m.id: m for m in models},
    )


def _provinces_from(root: Traversable | Path) -> tuple[dict[str, Province], dict[str, list[date]]]:
    """Provinces by id, and the national holidays / make-up workdays every calendar inherits."""
    file = "provinces.yaml"
    doc = _read(root, file)
    provinces = _records(doc, file, "provinces", Province)
    hol = doc.get("holidays")
    if not isinstance(hol, dict):
        raise _fail(file, "holidays", "missing or not a mapping with `days` and `extra_workdays`")
    national: dict[str, list[date]] = {}
    for key, target in (("days", "holidays"), ("extra_workdays", "extra_workdays")):
        try:
            national[target] = _DATES.validate_python(hol.get(key, []))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise _fail(file, _loc(f"holidays.{key}", err["loc"]), err["msg"]) from None
    return {p.id: p for p in provinces}, national


def _network_from(root: Traversable | Path, catalog: Catalog) -> Network:
    provinces, national = _provinces_from(root)
    kinds = _station_kinds_from(root)
    for kind, steps in kinds.items():
        for j, step in enumerate(steps):
            if step not in catalog.finishes:
                raise _fail("finishes.yaml", f"station_kinds.{kind}[{j}]", f"unknown finish {step!r}")
    doc = _read(root, "sites.yaml")
    file = "sites.yaml"

    def prepare(i: int, item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        item = dict(item)
        prov = provinces.get(str(item.get("province")))
        if "province" in item and prov is None:
            raise _fail(file, f"sites[{i}].province",
                        f"{item['province']!r} has no tariff and grid factor in provinces.yaml "
                        f"(known: {sorted(provinces)})")
        if prov is not None:
            item.setdefault("electricity_cny_per_kwh", prov.electricity_cny_per_kwh)
            item.setdefault("grid_co2_kg_per_kwh", prov.grid_co2_kg_per_kwh)
        cal = item.get("calendar")
        if isinstance(cal, dict) and "holidays" not in cal:
            item["calendar"] = {**cal, **national}
        return item

    sites = _records(doc, file, "sites", Site, prepare)
    machine_seen: dict[str, str] = {}
    for i, s in enumerate(sites):
        if not s.machines:
            raise _fail(file, f"sites[{i}].machines", "a site needs at least one machine")
        runnable: set[str] = set()
        for j, m in enumerate(s.machines):
            model = catalog.machine_models.get(m.model)
            if model is None:
                raise _fail(file, f"sites[{i}].machines[{j}].model",
                            f"unknown machine model {m.model!r} (not in machine_models.yaml)")
            if m.id in machine_seen:
                raise _fail(file, f"sites[{i}].machines[{j}].id",
                            f"duplicate machine id {m.id!r} (also at site {machine_seen[m.id]!r})")
            machine_seen[m.id] = s.id
            runnable.update(model.materials)
        station_ids: set[str] = set()
        for j, st in enumerate(s.stations):
            if st.id in station_ids:
                raise _fail(file, f"sites[{i}].stations[{j}].id", f"duplicate station id {st.id!r}")
            if st.kind not in kinds:
                raise _fail(file, f"sites[{i}].stations[{j}].kind",
                            f"unknown station kind {st.kind!r} (known: {sorted(kinds)})")
            station_ids.add(st.id)
        done = {step for st in s.stations for step in kinds[st.kind]}
        for family in dict.fromkeys(catalog.machine_models[m.model].process for m in s.machines):
            missing = [step for step in catalog.processes[family].post_processing if step not in done]
            if missing:
                raise _fail(file, f"sites[{i}].stations",
                            f"no station performs {missing}, which every {family.value} part needs "
                            f"(station kinds and their steps: finishes.yaml station_kinds)")
        for j, mat in enumerate(s.materials):
            if mat not in catalog.materials:
                raise _fail(file, f"sites[{i}].materials[{j}]", f"unknown material {mat!r}")
            if mat not in runnable:
                raise _fail(file, f"sites[{i}].materials[{j}]",
                            f"material {mat!r} is not run by any machine model at site {s.id!r}")
    return Network(catalog=catalog, sites={s.id: s for s in sites})


def _packaged() -> Traversable:
    return resources.files(__name__)


def load_catalog_from(path: str | Path) -> Catalog:
    """Load and validate the catalog files (processes, finishes, materials, machine models) in `path`."""
    return _catalog_from(Path(path))


def load_network_from(path: str | Path) -> Network:
    """Load and validate the whole network (catalog, provinces, sites) from the directory `path`."""
    root = Path(path)
    return _network_from(root, _catalog_from(root))


@functools.cache
def load_catalog() -> Catalog:
    """The packaged catalog: processes, materials, finishes and machine models (validated, cached)."""
    return _catalog_from(_packaged())


@functools.cache
def load_network() -> Network:
    """The packaged network of sites with the packaged catalog (validated, cached)."""
    return _network_from(_packaged(), load_catalog())


def load_provinces(path: str | Path | None = None) -> dict[str, Province]:
    """Province tariffs and grid factors, by province id (packaged data unless `path` is given)."""
    if path is None:
        return dict(_packaged_provinces())
    return _provinces_from(Path(path))[0]


def load_station_kinds(path: str | Path | None = None) -> dict[str, tuple[str, ...]]:
    """Station kinds a site may list, each with the finish ids (post-processing steps) it performs."""
    if path is None:
        return dict(_packaged_station_kinds())
    return _station_kinds_from(Path(path))


@functools.cache
def _packaged_provinces() -> dict[str, Province]:
    return _provinces_from(_packaged())[0]


@functools.cache
def _packaged_station_kinds() -> dict[str, tuple[str, ...]]:
    return _station_kinds_from(_packaged())


def _station_kinds_from(root: Traversable | Path) -> dict[str, tuple[str, ...]]:
    return parse_station_kinds(_read(root, "finishes.yaml"))


def parse_station_kinds(doc: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The station kinds of the document of finishes.yaml (as the store keeps it)."""
    file = "finishes.yaml"
    raw = doc.get("station_kinds")
    if not isinstance(raw, dict):
        raise _fail(file, "station_kinds", "missing or not a mapping of kind -> finish ids")
    out: dict[str, tuple[str, ...]] = {}
    for kind, steps in raw.items():
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise _fail(file, f"station_kinds.{kind}", "must be a list of finish ids")
        out[str(kind)] = tuple(steps)
    return out


def load_document(file: str) -> dict[str, Any]:
    """The top-level mapping of one packaged data file (e.g. ``costing.yaml``, ``logistics.yaml``), unvalidated:
    the engine that takes it validates it (services seed these into the database)."""
    return _read(_packaged(), file)
