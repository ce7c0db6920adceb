"""Sparkplug B v1.0 (Eclipse Tahu) as a second MQTT payload family: a host that turns births, data and
deaths into fabgrid events.

Topics are ``spBv1.0/<group_id>/<verb>/<edge_node_id>[/<device_id>]``, payloads the Sparkplug B
protobuf (decoded with the schema that the pysparkplug package ships compiled). Per edge node the
host keeps the birth certificates (metric aliases and datatypes), the bdSeq of the current session
and the message sequence; a gap in the sequence, or data that uses aliases no birth defined, is
counted and answered with a rebirth request (NCMD ``Node Control/Rebirth``) that `MqttIngest` sends.
What a metric means comes from a mapping (`data/telemetry/sparkplug_mapping.yaml`, or a file);
metrics it does not name are counted, not errors. DEATH certificates put the machines offline.

Event ids derive from group/node/device, the metric time, the message sequence number and the metric
name, so a redelivered message yields the same ids (deduplicated by the sink). Must not import store,
services or cli; the edge side (what the simulated fleet publishes) is `telemetry.sparkplug_edge`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pysparkplug import DataType, Metric, NCmd

from fabgrid.domain.telemetry import MachineState
from fabgrid.errors import InputError

NAMESPACE = "spBv1.0"
PREFIX = f"{NAMESPACE}/"
SUBSCRIPTION = f"{NAMESPACE}/#"
VERBS = ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD")
REBIRTH_METRIC = "Node Control/Rebirth"
BD_SEQ = "bdSeq"
#: seconds before a rebirth request to the same edge node is repeated while it has not reborn
REBIRTH_REPEAT_S = 30.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

Kind = Literal["state", "job", "good_total", "scrap_total", "rework_total", "planned_unit_s", "power_w",
               "energy_kwh_total", "temperature", "layer", "layers"]
_COUNTERS = {"good_total": "good", "scrap_total": "scrap", "rework_total": "rework"}


class MetricMap(BaseModel):
    """What the values of one Sparkplug metric mean."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    values: dict[int, MachineState] = Field(default_factory=dict)
    scale: float = 1.0
    sensor: str | None = None


class SparkplugMapping(BaseModel):
    """Sparkplug metrics -> fabgrid events (see the comments of the shipped mapping file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = ""
    site: Literal["group", "node"] = "group"
    machine: Literal["device", "node"] = "device"
    planned_unit_s: float = Field(default=600.0, gt=0)
    rebirth: bool = True
    metrics: dict[str, MetricMap]

    def lookup(self, name: str) -> tuple[MetricMap, str] | None:
        """The map of metric `name` and its sensor name (``/*`` remainder, else the map's or the name)."""
        spec = self.metrics.get(name)
        if spec is not None:
            return spec, spec.sensor or name
        for pattern, spec in self.metrics.items():
            if pattern.endswith("/*") and name.startswith(pattern[:-1]) and len(name) > len(pattern) - 1:
                return spec, spec.sensor or name[len(pattern) - 1:]
        return None


@cache
def _shipped_text() -> str:
    return resources.files("fabgrid.data").joinpath("telemetry/sparkplug_mapping.yaml").read_text("utf-8")


def load_mapping(path: Path | None = None) -> SparkplugMapping:
    """The shipped mapping, or the one in `path` (InputError naming the file when it is not valid)."""
    where = "the shipped Sparkplug mapping" if path is None else str(path)
    try:
        text = _shipped_text() if path is None else path.read_text("utf-8")
        return SparkplugMapping.model_validate(yaml.safe_load(text))
    except OSError as exc:
        raise InputError(f"cannot read the Sparkplug mapping {where}: {exc.strerror}",
                         hint="give an existing YAML file", code="telemetry.sparkplug_mapping") from None
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()[:3]
        raise InputError(f"{where} is not a valid Sparkplug mapping: {' '.join(first)}",
                         hint="see src/fabgrid/data/telemetry/sparkplug_mapping.yaml for the format",
                         code="telemetry.sparkplug_mapping") from None


@dataclass(frozen=True)
class SpTopic:
    """A parsed Sparkplug B topic."""

    group: str
    verb: str
    node: str
    device: str | None = None


def parse_topic(topic: str) -> SpTopic | None:
    """The parts of a Sparkplug B topic, or None for any other topic (STATE topics included)."""
    parts = topic.split("/")
    if parts[0] != NAMESPACE or len(parts) not in (4, 5) or parts[2] not in VERBS or not all(parts):
        return None
    device_level = parts[2].startswith("D")
    if device_level != (len(parts) == 5):
        return None
    return SpTopic(parts[1], parts[2], parts[3], parts[4] if device_level else None)


def topic_for(group: str, verb: str, node: str, device: str | None = None) -> str:
    """``spBv1.0/<group>/<verb>/<node>[/<device>]``; ids must be free of ``/ + #``."""
    for name, part in (("group", group), ("edge node", node), ("device", device or "x")):
        if not part or any(c in part for c in "/+#"):
            raise InputError(f"{name} id {part!r} cannot be used in a Sparkplug topic",
                             hint="ids must be non-empty and free of '/', '+', '#'", code="telemetry.topic")
    return f"{NAMESPACE}/{group}/{verb}/{node}" + (f"/{device}" if device else "")


def ms_to_iso(ms: int) -> str:
    """ISO 8601 UTC text (millisecond precision) of epoch milliseconds, exactly."""
    return (_EPOCH + ms * _MS).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_to_ms(ts: str) -> int:
    """Epoch milliseconds of an ISO 8601 time with offset (sub-millisecond digits dropped)."""
    return (datetime.fromisoformat(ts) - _EPOCH) // _MS


def message_id(*parts: object) -> str:
    """``spb:`` + the parts joined by ``:``; ids over 200 characters (the column) end in a hash."""
    mid = "spb:" + ":".join(str(p) for p in parts)
    if len(mid) <= 200:
        return mid
    return mid[:150] + "#" + hashlib.sha256(mid.encode()).hexdigest()[:40]


@dataclass
class SparkplugStats:
    """What the Sparkplug host did (counts of messages and metrics)."""

    messages: int = 0
    births: int = 0
    deaths: int = 0
    data: int = 0
    events: int = 0
    ignored: int = 0
    malformed: int = 0
    unmapped_metrics: int = 0
    unknown_aliases: int = 0
    unsupported_values: int = 0
    seq_gaps: int = 0
    stale_deaths: int = 0
    rebirth_requests: int = 0
    unmapped_names: list[str] = field(default_factory=list)


@dataclass
class _Machine:
    """What the host knows of one device (or edge node): its birth certificate and running values."""

    names: dict[int, str] = field(default_factory=dict)
    dtypes: dict[str, int] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    job: str | None = None
    pru: float | None = None
    layers: int | None = None


@dataclass
class _Node:
    own: _Machine = field(default_factory=_Machine)
    devices: dict[str, _Machine] = field(default_factory=dict)
    bd_seq: int | None = None
    birth_ms: int | None = None
    seq: int | None = None
    last_ms: int = 0
    rebirth_asked: float | None = None


@dataclass(frozen=True)
class _Value:
    name: str
    spec: MetricMap
    sensor: str
    value: Any
    ms: int


def _payload_class() -> Any:
    # the official sparkplug_b.proto as compiled in pysparkplug (its public classes wrap it but
    # reject a whole payload for one unsupported metric; here each metric is handled on its own)
    from pysparkplug._protobuf import Payload

    return Payload


class SparkplugHost:
    """Decodes Sparkplug B messages into fabgrid events, keeping per-edge-node state.

    Used by `MqttIngest` as a topic family (`prefix`, `subscriptions`, `handle`, `commands`,
    `summary`); `handle` must see the messages in the order they were received.
    """

    name = "sparkplug"
    prefix = PREFIX

    def __init__(self, mapping: SparkplugMapping | None = None, *, groups: Iterable[str] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self.mapping = mapping or load_mapping()
        self.groups = tuple(groups)
        self.subscriptions = tuple(f"{NAMESPACE}/{g}/#" for g in self.groups) or (SUBSCRIPTION,)
        self.stats = SparkplugStats()
        self.nodes: dict[tuple[str, str], _Node] = {}
        self._clock = clock
        self._commands: list[tuple[str, bytes]] = []
        self._payload = _payload_class()

    # -- topic family protocol -------------------------------------------------------------------

    def commands(self) -> list[tuple[str, bytes]]:
        """Messages to publish (rebirth requests) since the last call."""
        out, self._commands = self._commands, []
        return out

    def summary(self) -> dict[str, Any]:
        """The stats as a dict (for `IngestStats.families`)."""
        from dataclasses import asdict

        return asdict(self.stats)

    def handle(self, topic: str, payload: bytes) -> list[dict[str, Any]] | None:
        """The events of one message ([] for commands and certificates without events), or None when
        the topic or the payload is malformed."""
        t = parse_topic(topic)
        if t is None:
            if topic.startswith(f"{NAMESPACE}/STATE/"):
                self.stats.ignored += 1
                return []
            return None
        self.stats.messages += 1
        if t.verb in ("NCMD", "DCMD"):
            self.stats.ignored += 1
            return []
        try:
            pb = self._payload.FromString(payload)
        except Exception:  # google.protobuf.message.DecodeError
            self.stats.malformed += 1
            return None
        node = self.nodes.setdefault((t.group, t.node), _Node())
        if t.verb == "NDEATH":
            return self._ndeath(t, node, pb)
        ts_ms = int(pb.timestamp) if pb.HasField("timestamp") else int(self._clock() * 1000)
        node.last_ms = max(node.last_ms, ts_ms)
        seq = int(pb.seq) if pb.HasField("seq") else None
        if t.verb == "NBIRTH":
            self._nbirth(t, node, pb, ts_ms)
        else:
            self._check_seq(t, node, seq)
        events = self._dispatch(t, node, pb, ts_ms, seq)
        self.stats.events += len(events)
        return events

    # -- certificates and sequence -----------------------------------------------------------------

    def _nbirth(self, t: SpTopic, node: _Node, pb: Any, ts_ms: int) -> None:
        self.stats.births += 1
        node.devices = {k: _Machine(totals=d.totals, job=d.job, pru=d.pru, layers=d.layers)
                        for k, d in node.devices.items()}  # aliases die with the session; counters not
        node.own = _Machine(totals=node.own.totals, job=node.own.job, pru=node.own.pru, layers=node.own.layers)
        node.bd_seq = next((int(m.long_value) for m in pb.metrics if m.name == BD_SEQ), None)
        node.birth_ms = ts_ms
        node.seq = int(pb.seq) if pb.HasField("seq") else 0
        node.rebirth_asked = None

    def _check_seq(self, t: SpTopic, node: _Node, seq: int | None) -> None:
        if seq is None:
            return
        if node.seq is None:  # data from a node whose birth this host has not seen
            self._ask_rebirth(t, node)
        elif seq != (node.seq + 1) % 256 and seq != node.seq:
            self.stats.seq_gaps += 1
            self._ask_rebirth(t, node)
        node.seq = seq

    def _ask_rebirth(self, t: SpTopic, node: _Node) -> None:
        now = self._clock()
        if not self.mapping.rebirth or (node.rebirth_asked is not None
                                        and now - node.rebirth_asked < REBIRTH_REPEAT_S):
            return
        node.rebirth_asked = now
        self.stats.rebirth_requests += 1
        ms = int(now * 1000)
        body = NCmd(timestamp=ms, metrics=(Metric(timestamp=ms, name=REBIRTH_METRIC, datatype=DataType.BOOLEAN,
                                                  value=True),)).encode(include_dtypes=True)
        self._commands.append((topic_for(t.group, "NCMD", t.node), body))

    def _ndeath(self, t: SpTopic, node: _Node, pb: Any) -> list[dict[str, Any]]:
        self.stats.deaths += 1
        bd = next((int(m.long_value) for m in pb.metrics if m.name == BD_SEQ), None)
        if node.bd_seq is not None and bd is not None and bd != node.bd_seq:
            self.stats.stale_deaths += 1  # the will of an earlier session: the node has reborn since
            return []
        # the will was composed at connect time: the death is now, never before what the node last sent
        ms = max(int(self._clock() * 1000), node.last_ms)
        site = t.group if self.mapping.site == "group" else t.node
        machines = [t.node] if self.mapping.machine == "node" else sorted(node.devices)
        events = [self._state(message_id(t.group, t.node, m, node.birth_ms, bd, "NDEATH"), ms, site, m,
                              MachineState.OFFLINE) for m in machines]
        node.seq = None
        self.stats.events += len(events)
        return events

    # -- metrics -> events -------------------------------------------------------------------------

    def _dispatch(self, t: SpTopic, node: _Node, pb: Any, ts_ms: int, seq: int | None) -> list[dict[str, Any]]:
        birth = t.verb.endswith("BIRTH")
        if birth and t.device is not None:
            self.stats.births += 1
            old = node.devices.get(t.device)
            node.devices[t.device] = (_Machine() if old is None else
                                      _Machine(totals=old.totals, job=old.job, pru=old.pru, layers=old.layers))
        elif not birth and t.verb != "DDEATH":
            self.stats.data += 1
        machine_id = t.device if t.device is not None else t.node
        if (t.device is None) != (self.mapping.machine == "node"):
            # node metrics while machines are devices (or the reverse): only aliases are learnt
            state = node.own if t.device is None else node.devices.setdefault(t.device, _Machine())
            self._values(t, node, state, pb.metrics, ts_ms, birth, mapped=False)
            return []
        state = node.own if t.device is None else node.devices.setdefault(t.device, _Machine())
        site = t.group if self.mapping.site == "group" else t.node
        if t.verb == "DDEATH":
            self.stats.deaths += 1
            return [self._state(message_id(t.group, t.node, machine_id, ts_ms, seq, "DDEATH"), ts_ms, site,
                                machine_id, MachineState.OFFLINE)]
        values = self._values(t, node, state, pb.metrics, ts_ms, birth, mapped=True)
        ctx = _Ctx(site, machine_id, (t.group, t.node, machine_id), seq, birth)
        return self._events(ctx, state, values)

    def _values(self, t: SpTopic, node: _Node, state: _Machine, metrics: Any, ts_ms: int, birth: bool,
                *, mapped: bool) -> list[_Value]:
        out: list[_Value] = []
        for m in metrics:
            name: str | None = m.name if m.HasField("name") else None
            if m.HasField("alias"):
                if birth and name is not None:
                    state.names[int(m.alias)] = name
                elif name is None:
                    name = state.names.get(int(m.alias))
            if name is None:
                self.stats.unknown_aliases += 1
                self._ask_rebirth(t, node)
                continue
            if birth and m.datatype:
                state.dtypes[name] = int(m.datatype)
            if name == BD_SEQ or name.startswith(("Node Control/", "Device Control/")):
                continue
            found = self.mapping.lookup(name) if mapped else None
            if found is None:
                self.stats.unmapped_metrics += 1
                if name not in self.stats.unmapped_names and len(self.stats.unmapped_names) < 20:
                    self.stats.unmapped_names.append(name)
                continue
            value = self._decode_value(m, state.dtypes.get(name, 0))
            if value is not None:
                out.append(_Value(name, found[0], found[1], value, int(m.timestamp) if m.HasField("timestamp")
                                  else ts_ms))
        return out

    def _decode_value(self, m: Any, dtype: int) -> Any:
        which = m.WhichOneof("value")
        if m.is_null or which is None:
            return None
        raw = getattr(m, which)
        dt = int(m.datatype) or dtype
        try:
            value = DataType(dt).decode(raw) if dt else raw
        except (NotImplementedError, ValueError):
            value = None
        if not isinstance(value, bool | int | float | str):
            self.stats.unsupported_values += 1
            return None
        return value

    def _state(self, mid: str, ms: int, site: str, machine: str, state: MachineState) -> dict[str, Any]:
        return {"id": mid, "ts": ms_to_iso(ms), "site": site, "machine": machine, "type": "state",
                "state": state.value}

    def _events(self, ctx: _Ctx, m: _Machine, values: list[_Value]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for v in values:  # values that qualify the others first
            if v.spec.kind == "planned_unit_s" and _number(v.value) and float(v.value) > 0:
                m.pru = float(v.value) * v.spec.scale
            elif v.spec.kind == "layers" and _number(v.value):
                m.layers = int(v.value)
        deltas: dict[str, int] = {}
        count_ms = 0
        job_change: _Value | None = None
        for v in values:
            kind = v.spec.kind
            if kind in _COUNTERS or kind == "energy_kwh_total":
                if not _number(v.value):
                    continue
                prev, m.totals[kind] = m.totals.get(kind), float(v.value)
                if prev is None or float(v.value) <= prev:  # the first value is the baseline; resets skipped
                    continue
                if kind == "energy_kwh_total":
                    events.append(ctx.event(v, "energy", kwh=(float(v.value) - prev) * v.spec.scale))
                else:
                    deltas[_COUNTERS[kind]] = round(float(v.value) - prev)
                    count_ms = max(count_ms, v.ms)
            elif kind == "job":
                job_change = v
            else:
                ev = self._simple(ctx, m, v)
                if ev is not None:
                    events.append(ev)
        events.extend(self._jobs_and_counts(ctx, m, job_change, deltas, count_ms))
        return events

    def _simple(self, ctx: _Ctx, m: _Machine, v: _Value) -> dict[str, Any] | None:
        kind, value = v.spec.kind, v.value
        if kind == "state":
            state = _state_of(value, v.spec)
            if state is None:
                self.stats.unsupported_values += 1
                return None
            return ctx.event(v, "state", state=state.value)
        if not _number(value):
            return None
        if kind == "power_w":
            return ctx.event(v, "power", power_w=max(0.0, float(value) * v.spec.scale))
        if kind == "temperature":
            return ctx.event(v, "temperature", sensor=v.sensor, temperature_c=float(value) * v.spec.scale)
        if kind == "layer":
            return ctx.event(v, "layer", job=m.job, layer=int(value), layers=m.layers)
        return None

    def _jobs_and_counts(self, ctx: _Ctx, m: _Machine, job: _Value | None, deltas: dict[str, int],
                         count_ms: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        counts = {"good": deltas.get("good", 0), "scrap": deltas.get("scrap", 0)}
        counts["rework"] = min(deltas.get("rework", 0), counts["good"])  # reworked parts are good parts
        pru = m.pru or self.mapping.planned_unit_s
        new_job = None if job is None else (str(job.value) or None)
        if job is not None and new_job != m.job and not ctx.birth:
            if m.job is not None:  # the job ends with the counts of this message
                events.append(ctx.event(job, "job", event="end", job=m.job, **counts, planned_unit_s=pru))
                deltas = {}
            if new_job is not None:
                events.append(ctx.event(job, "job", event="start", job=new_job))
        if job is not None:
            m.job = new_job  # a birth states the current job without starting it
        if deltas:
            events.append(ctx.event(None, "count", **counts, planned_unit_s=pru, ms=count_ms))
        return events


@dataclass(frozen=True)
class _Ctx:
    site: str
    machine: str
    where: tuple[str, str, str]
    seq: int | None
    birth: bool

    def event(self, v: _Value | None, kind: str, *, ms: int | None = None, **fields: Any) -> dict[str, Any]:
        at = v.ms if v is not None else int(ms or 0)
        mid = message_id(*self.where, at, self.seq, v.name if v is not None else "count")
        return {"id": mid, "ts": ms_to_iso(at), "site": self.site, "machine": self.machine, "type": kind,
                **fields}


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _state_of(value: object, spec: MetricMap) -> MachineState | None:
    if isinstance(value, str):
        try:
            return MachineState(value)
        except ValueError:
            return None
    if isinstance(value, int) and not isinstance(value, bool):
        return spec.values.get(value)
    return None
