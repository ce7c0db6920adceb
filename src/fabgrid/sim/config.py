"""Simulator inputs: the assumptions of data/sim.yaml and the disruption SPEC of `fabgrid simulate`.

SPEC is a comma-separated list of ``KIND:TARGET:EFFECT:dayA-B`` items (days from 0, inclusive):
``site:cs-jingkai-01:closed:day3-6``, ``province:Guangdong:logistics:day10-12``,
``material:pa12:short:day5-9`` (a material id, or a suffix matching ``*_pa12``), or the path of a JSON
file holding a list of ``{"kind", "target", "start_day", "end_day"}`` objects. No engine imports.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fabgrid.domain.catalog import Network
from fabgrid.domain.sim import DisruptionKind, SimDisruption, SimParams
from fabgrid.errors import InputError

_EFFECTS = {"site": "closed", "province": "logistics", "material": "short"}
_DAYS = re.compile(r"^day(\d+)(?:-(\d+))?$")
SPEC_HINT = ("write KIND:TARGET:EFFECT:dayA-B items separated by commas, e.g. "
             "site:cs-jingkai-01:closed:day3-6,province:Guangdong:logistics:day10-12,material:pa12:short:day5-9")


def params_from(doc: dict[str, Any], where: str = "sim.yaml") -> SimParams:
    """Validate a parsed sim.yaml document; InputError names the bad key."""
    try:
        return SimParams.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(f"{where}: {loc}: {err['msg']}", hint="fix the named key (see the file's comments)",
                         code="sim.params") from None


@lru_cache(maxsize=1)
def load_params() -> SimParams:
    """The shipped simulator assumptions (cached)."""
    text = resources.files("fabgrid.data").joinpath("sim.yaml").read_text(encoding="utf-8")
    return params_from(yaml.safe_load(text))


def override(params: SimParams, settings: list[str]) -> SimParams:
    """`params` with ``dotted.key=value`` settings applied (values parsed as YAML), validated again."""
    doc = params.model_dump(mode="json")
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set fabgrid.batch_h=2",
                             code="sim.params")
        node: Any = doc
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                raise InputError(f"--set {item!r}: unknown key {key!r}", hint="use keys of data/sim.yaml",
                                 code="sim.params")
            node = node[part]
        if not isinstance(node, dict) or parts[-1] not in node:
            raise InputError(f"--set {item!r}: unknown key {key!r}", hint="use keys of data/sim.yaml",
                             code="sim.params")
        node[parts[-1]] = yaml.safe_load(raw)
    return params_from(doc, "--set")


def _bad(item: str, problem: str) -> InputError:
    return InputError(f"--disruptions: {item!r}: {problem}", hint=SPEC_HINT, code="sim.disruption")


def _check_target(d: SimDisruption, network: Network, item: str) -> SimDisruption:
    if d.kind is DisruptionKind.SITE and d.target not in network.sites:
        raise _bad(item, f"unknown site {d.target!r} (e.g. {', '.join(sorted(network.sites)[:3])})")
    if d.kind is DisruptionKind.PROVINCE and d.target not in {s.province for s in network.sites.values()}:
        known = sorted({s.province for s in network.sites.values()})
        raise _bad(item, f"no site in province {d.target!r} (known: {', '.join(known)})")
    if d.kind is DisruptionKind.MATERIAL and not material_ids(network, d.target):
        raise _bad(item, f"no material {d.target!r} (ids: {', '.join(sorted(network.catalog.materials))})")
    return d


def material_ids(network: Network, target: str) -> tuple[str, ...]:
    """Material ids a material disruption target names: the id itself or every ``*_target``."""
    mats = network.catalog.materials
    if target in mats:
        return (target,)
    return tuple(sorted(m for m in mats if m.endswith("_" + target)))


def parse_disruptions(spec: str | None, network: Network, days: int) -> tuple[SimDisruption, ...]:
    """Parse a SPEC string or JSON file into disruption windows, checked against the network."""
    if not spec:
        return ()
    path = Path(spec)
    if spec.endswith(".json") or path.is_file():
        if not path.is_file():
            raise InputError(f"--disruptions: file {spec} not found", hint=SPEC_HINT, code="sim.disruption")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"--disruptions: {spec} is not valid JSON ({exc.msg})", hint=SPEC_HINT,
                             code="sim.disruption") from None
        if not isinstance(raw, list):
            raise InputError(f"--disruptions: {spec} must hold a JSON list", hint=SPEC_HINT, code="sim.disruption")
        out = []
        for i, obj in enumerate(raw):
            try:
                d = SimDisruption.model_validate(obj)
            except ValidationError as exc:
                raise _bad(f"{spec}[{i}]", exc.errors()[0]["msg"]) from None
            out.append(_check_target(d, network, f"{spec}[{i}]"))
        return tuple(out)
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) != 4:
            raise _bad(item, "needs 4 fields KIND:TARGET:EFFECT:dayA-B")
        kind, target, effect, when = parts
        if kind not in _EFFECTS:
            raise _bad(item, f"unknown kind {kind!r} (site, province or material)")
        if effect != _EFFECTS[kind]:
            raise _bad(item, f"a {kind} disruption has effect {_EFFECTS[kind]!r}, not {effect!r}")
        m = _DAYS.match(when)
        if m is None:
            raise _bad(item, f"days {when!r} must look like day3-6 or day4")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        if b < a:
            raise _bad(item, f"day range {when!r} ends before it starts")
        if a >= days:
            raise _bad(item, f"starts on day {a}, after the simulated {days} day(s) (days count from 0)")
        out.append(_check_target(SimDisruption(kind=DisruptionKind(kind), target=target, start_day=a, end_day=b),
                                 network, item))
    return tuple(out)
