"""The edge side of Sparkplug B: a site's machines published as devices of one edge node.

`SparkplugEdge` takes fabgrid events (what `telemetry.fleet` simulates) and publishes them the way a
Sparkplug B edge node does: NBIRTH (bdSeq, ``Node Control/Rebirth``) first, a DBIRTH for each machine
before its first data (every metric with an alias and a datatype; the first values, counters at 0,
values not yet known as null), then DDATA by alias, grouping the events of one machine at one time
into one message, and NDEATH when closed. Metric names come from the same mapping the host reads
(`telemetry.sparkplug`), so that what is published is read back as the same events.
Counters are published as cumulative totals. Depends on the mapping and pysparkplug only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pysparkplug import DataType, DBirth, DData, Metric, NBirth, NDeath

from fabgrid.domain.telemetry import MachineState
from fabgrid.errors import InputError
from fabgrid.telemetry.sparkplug import (
    BD_SEQ,
    REBIRTH_METRIC,
    MetricMap,
    SparkplugMapping,
    iso_to_ms,
    load_mapping,
    topic_for,
)

Event = dict[str, Any]
_DTYPES = {"state": DataType.INT32, "job": DataType.STRING, "good_total": DataType.UINT64,
           "scrap_total": DataType.UINT64, "rework_total": DataType.UINT64, "planned_unit_s": DataType.DOUBLE,
           "power_w": DataType.DOUBLE, "energy_kwh_total": DataType.DOUBLE, "temperature": DataType.DOUBLE,
           "layer": DataType.UINT32, "layers": DataType.UINT32}
_TOTALS = {"good": "good_total", "scrap": "scrap_total", "rework": "rework_total"}


@dataclass
class _Device:
    aliases: dict[str, int]
    dtypes: dict[str, DataType]
    born: bool = False
    totals: dict[str, float] = field(default_factory=dict)


class SparkplugEdge:
    """One edge node (`node`) of group `group` publishing `devices` (machine id -> temperature sensors)
    through `send(topic, payload)`; `publish` takes events in time order."""

    def __init__(self, send: Callable[[str, bytes], None], group: str, node: str,
                 devices: Mapping[str, Sequence[str]], *, mapping: SparkplugMapping | None = None,
                 bd_seq: int = 0) -> None:
        self.send, self.group, self.node = send, group, node
        self.mapping = mapping or load_mapping()
        if self.mapping.machine != "device":
            raise InputError("the simulated edge node publishes machines as devices",
                             hint="use a mapping with machine: device", code="telemetry.sparkplug_mapping")
        self.names = _names_by_kind(self.mapping)
        self.bd_seq = bd_seq % 256
        self._seq = -1
        self.messages = 0
        self.skipped = 0  # events the mapping has no metric for
        alias = 2  # 0: bdSeq, 1: Node Control/Rebirth
        self.devices: dict[str, _Device] = {}
        for machine, sensors in devices.items():
            topic_for(group, "DDATA", node, machine)  # ids usable in topics
            aliases: dict[str, int] = {}
            dtypes: dict[str, DataType] = {}
            for kind, (name, _spec) in self.names.items():
                for metric in ([self._temperature_name(s) for s in sensors] if kind == "temperature" else [name]):
                    if metric is not None:
                        aliases[metric], dtypes[metric] = alias, _dtype(kind, self.mapping.metrics.get(name))
                        alias += 1
            self.devices[machine] = _Device(aliases, dtypes)
        self._group_key: tuple[str, str] | None = None
        self._group: dict[str, Any] = {}
        self._group_ms = 0

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % 256
        return self._seq

    def _emit(self, topic: str, payload: bytes) -> None:
        self.send(topic, payload)
        self.messages += 1

    def start(self, ts_ms: int) -> None:
        """Publish the NBIRTH (sequence 0)."""
        self._seq = -1
        metrics = (Metric(timestamp=ts_ms, name=BD_SEQ, datatype=DataType.UINT64, value=self.bd_seq, alias=0),
                   Metric(timestamp=ts_ms, name=REBIRTH_METRIC, datatype=DataType.BOOLEAN, value=False, alias=1))
        self._emit(topic_for(self.group, "NBIRTH", self.node),
                   NBirth(timestamp=ts_ms, seq=self._next_seq(), metrics=metrics).encode())

    def publish(self, ev: Mapping[str, Any]) -> None:
        """Add one event; the events of a machine at one time go out as one DBIRTH/DDATA."""
        machine = str(ev["machine"])
        dev = self.devices.get(machine)
        if dev is None:
            raise InputError(f"machine {machine!r} is not a device of edge node {self.node}",
                             code="telemetry.fleet")
        values = self._metrics_of(dev, ev)
        key = (machine, str(ev["ts"]))
        if key != self._group_key or any(n in self._group for n in values):
            self.flush()
            self._group_key, self._group_ms = key, iso_to_ms(str(ev["ts"]))
        self._group.update(values)

    def flush(self) -> None:
        """Publish the buffered values (a DBIRTH when the machine has not been born yet)."""
        if self._group_key is None:
            return
        machine, ms = self._group_key[0], self._group_ms
        dev, values = self.devices[machine], self._group
        self._group_key, self._group = None, {}
        if not dev.born:
            dev.born = True
            first: dict[str, Any] = {n: 0 for n in dev.aliases
                                     if self._kind(n) in (*_TOTALS.values(), "energy_kwh_total")}
            first.update({n: "" for n in dev.aliases if self._kind(n) == "job"})
            first.update(values)
            metrics = tuple(Metric(timestamp=ms, name=n, alias=a, datatype=dev.dtypes[n], value=first.get(n))
                            for n, a in dev.aliases.items())
            payload = DBirth(timestamp=ms, seq=self._next_seq(), metrics=metrics).encode()
            self._emit(topic_for(self.group, "DBIRTH", self.node, machine), payload)
            return
        metrics = tuple(Metric(timestamp=ms, name=None, alias=dev.aliases[n], datatype=dev.dtypes[n], value=v)
                        for n, v in values.items())
        self._emit(topic_for(self.group, "DDATA", self.node, machine),
                   DData(timestamp=ms, seq=self._next_seq(), metrics=metrics).encode())

    def close(self, ts_ms: int | None = None) -> None:
        """Publish what is buffered, then the NDEATH (a clean disconnect announces the death)."""
        self.flush()
        metric = Metric(timestamp=ts_ms, name=BD_SEQ, datatype=DataType.UINT64, value=self.bd_seq)
        self._emit(topic_for(self.group, "NDEATH", self.node), NDeath(timestamp=ts_ms, bd_seq_metric=metric).encode())

    # -- events -> metric values -------------------------------------------------------------------

    def _kind(self, metric: str) -> str | None:
        found = self.mapping.lookup(metric)
        return None if found is None else found[0].kind

    def _temperature_name(self, sensor: str) -> str | None:
        for name, spec in self.mapping.metrics.items():
            if spec.kind == "temperature" and spec.sensor == sensor and not name.endswith("/*"):
                return name
        wild = next((n for n, s in self.mapping.metrics.items() if s.kind == "temperature" and n.endswith("/*")), None)
        return None if wild is None else wild[:-1] + sensor

    def _metrics_of(self, dev: _Device, ev: Mapping[str, Any]) -> dict[str, Any]:
        kind, out = ev["type"], dict[str, Any]()
        named = self.names
        if kind == "state" and "state" in named:
            name, spec = named["state"]
            out[name] = _state_code(spec, MachineState(ev["state"]))
        elif kind == "power" and "power_w" in named:
            name, spec = named["power_w"]
            out[name] = float(ev["power_w"]) / spec.scale
        elif kind == "temperature":
            tname = self._temperature_name(str(ev["sensor"]))
            found = None if tname is None or tname not in dev.aliases else self.mapping.lookup(tname)
            if tname is not None and found is not None:
                out[tname] = float(ev["temperature_c"]) / found[0].scale
        elif kind == "layer" and "layer" in named:
            out[named["layer"][0]] = int(ev["layer"])
            if ev.get("layers") is not None and "layers" in named:
                out[named["layers"][0]] = int(ev["layers"])
        elif kind == "energy" and "energy_kwh_total" in named:
            name, spec = named["energy_kwh_total"]
            dev.totals[name] = dev.totals.get(name, 0.0) + float(ev["kwh"]) / spec.scale
            out[name] = dev.totals[name]
        elif kind == "job" and "job" in named:
            out[named["job"][0]] = str(ev["job"]) if ev.get("event") == "start" else ""
            if ev.get("event") == "end":
                out.update(self._counts(dev, ev))
        elif kind == "count":
            out.update(self._counts(dev, ev))
        if not out:
            self.skipped += 1
        return out

    def _counts(self, dev: _Device, ev: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if ev.get("planned_unit_s") is not None and "planned_unit_s" in self.names:
            name, spec = self.names["planned_unit_s"]
            out[name] = float(ev["planned_unit_s"]) / spec.scale
        for field_name, kind in _TOTALS.items():
            if kind in self.names:
                name = self.names[kind][0]
                dev.totals[name] = dev.totals.get(name, 0) + int(ev.get(field_name, 0))
                out[name] = int(dev.totals[name])
        return out


def _names_by_kind(mapping: SparkplugMapping) -> dict[str, tuple[str, MetricMap]]:
    """The first metric of each kind (for temperatures: the first name, the sensors are resolved apart)."""
    out: dict[str, tuple[str, MetricMap]] = {}
    for name, spec in mapping.metrics.items():
        if spec.kind not in out and (spec.kind == "temperature" or not name.endswith("/*")):
            out[spec.kind] = (name, spec)
    return out


def _dtype(kind: str, spec: MetricMap | None) -> DataType:
    if kind == "state" and spec is not None and not spec.values:
        return DataType.STRING
    return _DTYPES[kind]


def _state_code(spec: MetricMap, state: MachineState) -> int | str:
    if not spec.values:
        return state.value
    for code, s in spec.values.items():
        if s is state:
            return code
    raise InputError(f"the Sparkplug mapping has no code for state {state.value!r}",
                     hint="add it to the state metric's values", code="telemetry.sparkplug_mapping")
