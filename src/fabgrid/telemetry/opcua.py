"""OPC UA source: subscribe to each machine's nodes on a server and turn value changes into events.

Which nodes and what they mean come from `data/opcua_mappings.yaml` per machine model. Event ids
derive from the node and the server's source timestamp, so re-reading the same value after a
restart yields the same id (deduplicated by the sink). asyncua is an optional extra (`opcua`),
imported lazily. Must not import store, services or cli.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from fabgrid.domain.telemetry import MachineState
from fabgrid.errors import InputError

Kind = Literal["state", "good_total", "scrap_total", "rework_total", "planned_unit_s", "power_w",
               "temperature", "layer"]


class NodeMap(BaseModel):
    """One node of a machine and what its value changes mean."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node: str = Field(description="node id template with {ns} and {machine}")
    kind: Kind
    values: dict[int, MachineState] = Field(default_factory=dict)
    scale: float = 1.0
    sensor: str | None = None


class ModelMapping(BaseModel):
    """The nodes of one machine model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace_uri: str
    planned_unit_s: float = Field(gt=0)
    nodes: tuple[NodeMap, ...]


@cache
def load_mappings() -> dict[str, ModelMapping]:
    """The shipped OPC UA mappings by machine model id (``default`` for any other model)."""
    text = resources.files("fabgrid.data").joinpath("opcua_mappings.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return {k: ModelMapping.model_validate(v) for k, v in raw["mappings"].items()}


def _asyncua() -> Any:
    try:
        import asyncua
    except ImportError:
        raise InputError("OPC UA ingest needs the asyncua package, which is not installed",
                         hint="install the extra: pip install 'fabgrid[opcua]'",
                         code="telemetry.opcua_extra") from None
    return asyncua


@dataclass(frozen=True)
class OpcUaMachine:
    """A machine read over OPC UA."""

    site: str
    machine: str
    model: str


@dataclass
class _Binding:
    m: OpcUaMachine
    spec: NodeMap
    last: float | None = None


@dataclass
class OpcUaStats:
    """What an OPC UA run did."""

    notifications: int = 0
    events: int = 0
    stored: int = 0
    unknown_values: int = 0
    subscribed: int = 0
    errors: list[str] = field(default_factory=list)


def _iso(ts: datetime | None) -> str:
    t = ts or datetime.now(UTC)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Handler:
    """asyncua subscription handler: converts notifications into fabgrid events."""

    def __init__(self, source: OpcUaSource) -> None:
        self.source = source

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.source._notify(node.nodeid.to_string(), val, data.monitored_item.Value.SourceTimestamp)

    def status_change_notification(self, status: Any) -> None:
        self.source.stats.errors.append(f"subscription status {status}")


class OpcUaSource:
    """Subscribes to the mapped nodes of `machines` on one server and hands events to `emit`.

    `emit` receives lists of event dicts (the JSON-lines format, with ``id``); use a sink from
    `fabgrid.services.telemetry` to store them.
    """

    def __init__(self, url: str, machines: Sequence[OpcUaMachine],
                 emit: Callable[[list[dict[str, Any]]], int], *,
                 mappings: dict[str, ModelMapping] | None = None, period_ms: float = 100.0) -> None:
        self.url = url
        self.machines = list(machines)
        self.emit = emit
        self.mappings = load_mappings() if mappings is None else mappings
        self.period_ms = period_ms
        self.stats = OpcUaStats()
        self._bindings: dict[str, _Binding] = {}
        self._pru: dict[str, float] = {}
        self._pending: list[dict[str, Any]] = []

    def _mapping(self, model: str) -> ModelMapping:
        found = self.mappings.get(model) or self.mappings.get("default")
        if found is None:
            raise InputError(f"no OPC UA mapping for machine model {model!r}",
                             hint="add it to data/opcua_mappings.yaml", code="telemetry.opcua_mapping")
        return found

    def _notify(self, node_id: str, val: Any, source_ts: datetime | None) -> None:
        self.stats.notifications += 1
        b = self._bindings.get(node_id)
        if b is None:
            return
        m, spec, ts = b.m, b.spec, _iso(source_ts)
        base = {"id": f"opcua:{node_id}:{ts}", "ts": ts, "site": m.site, "machine": m.machine}
        ev: dict[str, Any] | None = None
        if spec.kind == "state":
            state = spec.values.get(int(val))
            if state is None:
                self.stats.unknown_values += 1
                return
            ev = {**base, "type": "state", "state": state.value}
        elif spec.kind == "planned_unit_s":
            self._pru[m.machine] = float(val) * spec.scale
        elif spec.kind in ("good_total", "scrap_total", "rework_total"):
            value = float(val)
            prev, b.last = b.last, value
            if prev is not None and value > prev:  # the first value is the baseline; resets are skipped
                delta = round(value - prev)
                field_name = spec.kind.removesuffix("_total")
                pru = self._pru.get(m.machine, self._mapping(m.model).planned_unit_s)
                ev = {**base, "type": "count", "good": 0, "scrap": 0, "rework": 0, "planned_unit_s": pru}
                ev[field_name] = delta
                if field_name == "rework":
                    ev["good"] = delta  # reworked parts are good parts that needed rework
        elif spec.kind == "power_w":
            ev = {**base, "type": "power", "power_w": max(0.0, float(val) * spec.scale)}
        elif spec.kind == "temperature":
            ev = {**base, "type": "temperature", "sensor": spec.sensor or "temperature",
                  "temperature_c": float(val) * spec.scale}
        elif spec.kind == "layer":
            ev = {**base, "type": "layer", "layer": int(val)}
        if ev is not None:
            self._pending.append(ev)

    def flush(self) -> int:
        """Hand pending events to `emit`; returns how many were new."""
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        self.stats.events += len(batch)
        new = self.emit(batch)
        self.stats.stored += new
        return new

    async def run(self, *, duration_s: float | None = None, stop: asyncio.Event | None = None,
                  flush_s: float = 0.2) -> OpcUaStats:
        """Connect, subscribe and forward events until `stop` is set or `duration_s` elapsed."""
        asyncua = _asyncua()
        stop = stop or asyncio.Event()
        async with asyncua.Client(url=self.url) as client:
            nodes = []
            ns_cache: dict[str, int] = {}
            for m in self.machines:
                mp = self._mapping(m.model)
                if mp.namespace_uri not in ns_cache:
                    ns_cache[mp.namespace_uri] = await client.get_namespace_index(mp.namespace_uri)
                for spec in mp.nodes:
                    node = client.get_node(spec.node.format(ns=ns_cache[mp.namespace_uri], machine=m.machine))
                    self._bindings[node.nodeid.to_string()] = _Binding(m, spec)
                    nodes.append(node)
            sub = await client.create_subscription(self.period_ms, _Handler(self))
            handles = await sub.subscribe_data_change(nodes)
            bad = [str(h) for h in handles if not isinstance(h, int)]
            if bad:
                raise InputError(f"OPC UA server {self.url} refused {len(bad)} of {len(nodes)} nodes: "
                                 f"{bad[0]}",
                                 hint="check data/opcua_mappings.yaml against the server's address space",
                                 code="telemetry.opcua_nodes")
            self.stats.subscribed = len(nodes)
            loop = asyncio.get_running_loop()
            t_end = None if duration_s is None else loop.time() + duration_s
            while not stop.is_set() and (t_end is None or loop.time() < t_end):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=flush_s)
                self.flush()
            await sub.delete()
        self.flush()
        return self.stats
