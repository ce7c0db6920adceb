"""Telemetry use cases: store ingested machine events (database and/or JSON lines) and read them back.

The database sink writes one batch per transaction through the store (`fabgrid.store.telemetry`: COPY on
PostgreSQL, ``INSERT ... ON CONFLICT (message_id) DO NOTHING``), so redelivered MQTT messages are counted
once. A message that cannot be stored is parked with the reason in a dead-letter store (`telemetry_dead_letters`
in the database, or a ``.dead-letters.jsonl`` file beside ``--out``) and acknowledged, so the ingest keeps
going. Uses the telemetry engine and the store; nothing here is imported by an engine.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fabgrid.errors import InputError
from fabgrid.store.db import TransientStoreError
from fabgrid.store.telemetry import Database, DeadLetterStore, EventsRefused, MachineEventStore, refusal
from fabgrid.telemetry.events import columns_from_events
from fabgrid.telemetry.kpi import KpiTable, compute
from fabgrid.telemetry.mqtt import (
    SUBSCRIPTION,
    Broker,
    DeadLetters,
    IngestConfig,
    IngestStats,
    MqttIngest,
    Parked,
    Refusal,
    Sink,
    TopicFamily,
    shared,
)
from fabgrid.telemetry.state import fixed_periods


class SqlEventSink:
    """Stores event batches in the database's `machine_events`, one transaction per batch; returns how many
    were new (`db`: an engine or a database URL; the table is created unless `create` is False)."""

    def __init__(self, db: Database, *, create: bool = True) -> None:
        self.events = MachineEventStore(db, create=create)

    def __call__(self, events: list[dict[str, Any]]) -> int:
        return self.events.add(events)

    def refusal(self, event: dict[str, Any]) -> str | None:
        """Why `event` cannot be stored (None: it can)."""
        return refusal(event)

    def count(self) -> int:
        """Rows in `machine_events`."""
        return self.events.count()

    def last_event_at(self) -> datetime | None:
        """The time of the latest stored event (UTC), or None."""
        return self.events.last_event_at()


class JsonlEventSink:
    """Appends new events to a JSON-lines file (the `fabgrid kpi` format), skipping ids already in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] = set()
        if path.exists():
            with path.open("r", encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        mid = json.loads(line).get("id")
                    except (json.JSONDecodeError, AttributeError):
                        raise InputError(f"{path}:{n}: not a JSON object; cannot append to this file",
                                         hint="give --out a new file or an events file",
                                         code="telemetry.out") from None
                    if isinstance(mid, str):
                        self.seen.add(mid)
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, events: list[dict[str, Any]]) -> int:
        fresh = []
        for ev in events:
            if ev["id"] not in self.seen:
                self.seen.add(ev["id"])
                fresh.append(json.dumps(ev, separators=(",", ":")))
        if fresh:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(fresh) + "\n")
                fh.flush()
                os.fsync(fh.fileno())  # durable before the messages are acknowledged
        return len(fresh)


class MultiSink:
    """Writes each batch to several sinks; the first one's count is reported."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def __call__(self, events: list[dict[str, Any]]) -> int:
        counts = [s(events) for s in self.sinks]
        return counts[0]

    def refusal(self, event: dict[str, Any]) -> str | None:
        """The first refusal of a sink that checks its events."""
        checks = (getattr(s, "refusal", None) for s in self.sinks)
        return next((why for c in checks if c is not None and (why := c(event)) is not None), None)


class SqlDeadLetters:
    """Keeps dead letters in the database's `telemetry_dead_letters` (created unless `create` is False)."""

    def __init__(self, db: Database, *, create: bool = True) -> None:
        self.store = DeadLetterStore(db, create=create)

    def __call__(self, parked: list[Parked]) -> int:
        return self.store.add([(p.topic, p.message_id, p.reason, p.payload) for p in parked])

    def count(self) -> int:
        """Dead letters kept."""
        return self.store.count()


class JsonlDeadLetters:
    """Appends dead letters to a JSON-lines file (topic, message_id, reason, payload_b64), durably."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, parked: list[Parked]) -> int:
        lines = [json.dumps({"topic": p.topic, "message_id": p.message_id, "reason": p.reason,
                             "payload_b64": base64.b64encode(p.payload).decode("ascii")}) for p in parked]
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return len(lines)


def dead_letters_path(out: Path) -> Path:
    """Where the dead letters of an ingest into the JSON-lines file `out` go: ``<out>.dead-letters.jsonl``."""
    return out.with_name(out.name + ".dead-letters.jsonl")


@dataclass(frozen=True)
class IngestTarget:
    """Where ingested events go."""

    database_url: str | None
    out: Path | None


def make_sink(target: IngestTarget, engine: Database | None = None) -> Sink:
    """The sink for `target` (database first, then the file)."""
    sinks: list[Sink] = []
    if engine is not None or target.database_url:
        sinks.append(SqlEventSink(engine if engine is not None else str(target.database_url)))
    if target.out is not None:
        sinks.append(JsonlEventSink(target.out))
    if not sinks:
        raise InputError("ingest needs somewhere to write", hint="give --database-url or --out",
                         code="telemetry.ingest")
    return sinks[0] if len(sinks) == 1 else MultiSink(sinks)


def make_dead_letters(target: IngestTarget, engine: Database | None = None) -> DeadLetters:
    """Where the ingest for `target` parks what it cannot store: the database when there is one, else a file
    beside ``--out``."""
    if engine is not None or target.database_url:
        return SqlDeadLetters(engine if engine is not None else str(target.database_url))
    if target.out is not None:
        return JsonlDeadLetters(dead_letters_path(target.out))
    raise InputError("ingest needs somewhere to write", hint="give --database-url or --out",
                     code="telemetry.ingest")


def run_ingest(mqtt_url: str, target: IngestTarget, *, client_id: str = "fabgrid-ingest",
               duration_s: float | None = None, idle_exit_s: float | None = None, batch_size: int = 5000,
               expect: int | None = None, engine: Database | None = None, sparkplug: bool = True,
               sparkplug_mapping: Path | None = None, share: str | None = None,
               rollup_every_s: float | None = None, retention_days: float | None = None) -> IngestStats:
    """Ingest MQTT telemetry into the target until interrupted, `duration_s`, idle, or `expect` stored; what
    cannot be stored is parked (`make_dead_letters`) and counted in `IngestStats.parked`.

    With `sparkplug` the ingest also subscribes to ``spBv1.0/#`` and maps Sparkplug B metrics to
    events with `sparkplug_mapping` (default: the shipped mapping).

    With `share` the fabgrid topics are read through the MQTT 5 shared subscription ``$share/<share>/...``:
    the broker gives each message to one process of the group. Sparkplug B stays a plain subscription in each
    process (a host application needs the births and the data of a node alike; its events carry ids derived
    from the message, so the copies are dropped by the sink's unique id)."""
    families: tuple[TopicFamily, ...] = ()
    if sparkplug:
        from fabgrid.telemetry.sparkplug import SparkplugHost, load_mapping

        families = (SparkplugHost(load_mapping(sparkplug_mapping)),)
    sink = make_sink(target, engine)
    check: Refusal | None = getattr(sink, "refusal", None)
    subscription = SUBSCRIPTION if share is None else shared(SUBSCRIPTION, share)
    ingest = MqttIngest(IngestConfig(broker=Broker.from_url(mqtt_url), client_id=client_id,
                                     subscription=subscription,
                                     batch_size=batch_size, receive_maximum=min(65535, max(20000, 2 * batch_size)),
                                     retry_errors=(TransientStoreError, OSError), refused_errors=(EventsRefused,)),
                        sink, families=families, dead_letters=make_dead_letters(target, engine), refusal=check)
    until = None if expect is None else (lambda s: s.stored >= expect)
    stop_rollups = None
    if rollup_every_s is not None:
        db = engine if engine is not None else target.database_url
        if db is None:
            raise InputError("roll-ups need a database", hint="give --database-url (or FABGRID_DATABASE_URL)",
                             code="telemetry.rollup")
        from fabgrid.services.telemetry_rollups import start_rollups

        stop_rollups = start_rollups(db, rollup_every_s, retention_days=retention_days)
    try:
        return ingest.run(duration_s=duration_s, idle_exit_s=idle_exit_s, until=until)
    except KeyboardInterrupt:
        return ingest.stats
    finally:
        if stop_rollups is not None:
            stop_rollups.set()


def iter_events(engine: Database, *, since: datetime | None = None,
                until: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Stored events back in the JSON-lines event format, in time order."""
    return MachineEventStore(engine, create=False).events(since=since, until=until)


def kpis_from_store(engine: Database, t_from: datetime, t_to: datetime, *,
                    period_s: float | None = None) -> KpiTable:
    """ISO 22400-2 KPIs of the stored events in ``[t_from, t_to)`` (state held from before the window
    counts: the events of the previous day are read too). Where hourly roll-ups exist
    (`services.telemetry_rollups`) and the periods are whole hours, the window starts at the hour of `t_from`
    and is read from the roll-ups, with raw events only after them."""
    from datetime import timedelta

    from fabgrid.services.telemetry_rollups import kpis_from_rollups

    rolled = kpis_from_rollups(engine, t_from, t_to, period_s=period_s)
    if rolled is not None:
        return rolled

    cols = columns_from_events(iter_events(engine, since=t_from - timedelta(days=1), until=t_to))
    return compute(cols, fixed_periods(t_from.timestamp(), t_to.timestamp(), period_s))
