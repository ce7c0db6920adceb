"""Typed records of machine data: machine states, telemetry events and ISO 22400-2 KPI results.

The JSON-lines event format read by `fabgrid kpi` and written by `fabgrid ingest` is defined here
(`TelemetryEvent`). Pydantic v2 models; no I/O, no database, no MQTT.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter


class MachineState(StrEnum):
    """What a machine is doing (ISO 22400-2 time model).

    producing -> APT (actual production time); setup -> ASUT (actual unit setup time);
    unplanned_downtime -> ADET (actual unit delay time); idle -> scheduled but not busy;
    planned_downtime -> PDOT (maintenance, breaks: outside PBT); offline -> not scheduled (outside POT).
    """

    PRODUCING = "producing"
    IDLE = "idle"
    SETUP = "setup"
    PLANNED_DOWNTIME = "planned_downtime"
    UNPLANNED_DOWNTIME = "unplanned_downtime"
    OFFLINE = "offline"


#: Fixed integer code of each state (index into duration arrays), in this order.
STATE_ORDER: tuple[MachineState, ...] = tuple(MachineState)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    id: str | None = Field(default=None, description="unique message id (deduplication key)")
    ts: AwareDatetime = Field(description="event time, ISO 8601 with offset (UTC recommended)")
    machine: str = Field(min_length=1, description="machine id, unique in the network")
    site: str | None = Field(default=None, description="site id (used for site aggregates)")


class StateEvent(_Event):
    """The machine entered `state` at `ts`; it stays there until its next state event."""

    type: Literal["state"]
    state: MachineState


class CountEvent(_Event):
    """Parts finished since the previous count event of the machine.

    `good` includes parts that passed only after rework; `rework` (<= good) counts those, so
    first-pass yield = (good - rework) / (good + scrap). `planned_unit_s` is the planned run time
    per unit (ISO PRU) of these parts.
    """

    type: Literal["count"]
    good: int = Field(ge=0)
    scrap: int = Field(ge=0, default=0)
    rework: int = Field(ge=0, default=0)
    planned_unit_s: float = Field(gt=0)
    value_cny: float = Field(ge=0, default=0.0, description="value added of these parts, CNY (optional)")
    job: str | None = None


class JobEvent(_Event):
    """A job started or ended on the machine; an ``end`` carries the job's counts like a count event."""

    type: Literal["job"]
    event: Literal["start", "end"]
    job: str
    good: int = Field(ge=0, default=0)
    scrap: int = Field(ge=0, default=0)
    rework: int = Field(ge=0, default=0)
    planned_unit_s: float | None = Field(default=None, gt=0)
    value_cny: float = Field(ge=0, default=0.0, description="value added of the job's parts, CNY (optional)")


class EnergyEvent(_Event):
    """Electrical energy drawn since the previous energy event of the machine (meter delta)."""

    type: Literal["energy"]
    kwh: float = Field(ge=0)


class PowerEvent(_Event):
    """Instantaneous power; held constant until the machine's next power event (integrated to kWh)."""

    type: Literal["power"]
    power_w: float = Field(ge=0)


class LayerEvent(_Event):
    """Build progress of an additive job (not used by the KPIs)."""

    type: Literal["layer"]
    job: str | None = None
    layer: int = Field(ge=0)
    layers: int | None = Field(default=None, ge=1)


class TemperatureEvent(_Event):
    """A temperature reading (nozzle, bed, chamber, build plate ...; not used by the KPIs)."""

    type: Literal["temperature"]
    sensor: str = "chamber"
    temperature_c: float


class CameraEvent(_Event):
    """A camera frame of a running job scored by the machine's anomaly detector (not used by the KPIs): its score,
    the detector's threshold, whether it is anomalous and how many anomalous frames in a row there are now."""

    type: Literal["camera"]
    job: str | None = None
    score: float
    threshold: float
    anomalous: bool
    streak: int = Field(ge=0, default=0)


TelemetryEvent = Annotated[
    StateEvent | CountEvent | JobEvent | EnergyEvent | PowerEvent | LayerEvent | TemperatureEvent | CameraEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(TelemetryEvent)
EVENT_KINDS: tuple[str, ...] = ("state", "count", "job", "energy", "power", "layer", "temperature", "camera")


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of one line of an events file (`fabgrid kpi --schema`)."""
    schema: dict[str, Any] = EVENT_ADAPTER.json_schema()
    schema["title"] = "fabgrid telemetry event (one JSON object per line)"
    schema["description"] = (
        "One JSON object per line, discriminated by 'type'. Times are ISO 8601 with an offset. "
        "KPIs use: 'state' (the machine is in that state from ts until its next state event; time "
        "before its first state event is not counted), 'count' and 'job' with event 'end' (parts "
        "finished: good includes reworked parts, rework <= good, planned_unit_s = ISO PRU, optional "
        "value_cny = value added; a job's counts are spread over the time since its 'start'), 'energy' "
        "(kWh since the previous energy event) and 'power' (W held until the next power event, "
        "integrated); send either energy or power for a machine, not both. 'layer', 'temperature' and "
        "'camera' (a frame's anomaly score) are stored but not used by the KPIs. 'site' groups machines "
        "for site aggregates; 'id' is the message id ingest deduplicates on. Time model (ISO 22400-2): "
        "APT = producing, ASUT = setup, "
        "ADET = unplanned_downtime, PDOT = planned_downtime, PBT = producing + setup + "
        "unplanned_downtime + idle, POT = PBT + PDOT, offline is outside POT; AUPT = APT + ASUT, "
        "AUBT = AOET = AUPT + ADET.")
    return schema


class KpiElements(BaseModel):
    """The ISO 22400-2 elements (durations in s, quantities in units) one KPI row is computed from."""

    model_config = ConfigDict(frozen=True)

    pot_s: float = Field(description="planned operation time POT (all states but offline)")
    pdot_s: float = Field(description="planned downtime PDOT")
    pbt_s: float = Field(description="planned busy time PBT = POT - PDOT")
    apt_s: float = Field(description="actual production time APT (producing)")
    asut_s: float = Field(description="actual unit setup time ASUT")
    adet_s: float = Field(description="actual unit delay time ADET (unplanned downtime)")
    idle_s: float
    offline_s: float
    aupt_s: float = Field(description="actual unit processing time AUPT = APT + ASUT")
    aubt_s: float = Field(description="actual unit busy time AUBT = AUPT + ADET")
    aoet_s: float = Field(description="actual order execution time AOET (here = AUBT)")
    pq: float = Field(description="produced quantity PQ = GQ + SQ")
    gq: float = Field(description="good quantity GQ")
    sq: float = Field(description="scrap quantity SQ")
    rq: float = Field(description="rework quantity RQ")
    planned_time_s: float = Field(description="sum of PRU x PQ over count events")
    energy_kwh: float
    value_added_cny: float = Field(default=0.0, description="value added of the counted parts, CNY")


class Kpis(BaseModel):
    """ISO 22400-2 KPIs of one machine, site or the network over one period (None: undefined, 0/0)."""

    model_config = ConfigDict(frozen=True)

    scope: Literal["machine", "site", "network"]
    key: str
    site: str | None = None
    period_start: datetime
    period_end: datetime
    availability: float | None
    effectiveness: float | None
    quality_ratio: float | None
    oee: float | None
    nee: float | None
    technical_efficiency: float | None
    setup_rate: float | None
    scrap_ratio: float | None
    rework_ratio: float | None
    first_pass_yield: float | None
    throughput_rate_per_h: float | None
    energy_kwh: float
    energy_kwh_per_good_unit: float | None
    energy_kwh_per_cny: float | None = Field(default=None, description="kWh per CNY of value added")
    co2_kg: float | None = None
    elements: KpiElements
