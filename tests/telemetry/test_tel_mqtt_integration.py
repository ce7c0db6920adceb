"""MQTT ingest against real brokers: exact counts into SQLite and PostgreSQL, ingest killed mid-stream,
broker restarted mid-stream. The shared Mosquitto (1883) is never stopped; restarts use a private one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from tel_helpers import PrivateBroker, model, require_service

from fabgrid.services.telemetry import SqlEventSink
from fabgrid.store.telemetry_tables import machine_events
from fabgrid.telemetry.fleet import SimMachine, fleet_events, run_fleet
from fabgrid.telemetry.mqtt import Broker, IngestConfig, MqttIngest, Publisher

pytestmark = pytest.mark.integration

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _fleet(site: str) -> list[SimMachine]:
    return [SimMachine(site, f"{site}-m{i}", model()) for i in range(6)]


def _publish(url: str, fleet: list[SimMachine], n: int, rate_hz: float, ids: list[str]) -> threading.Thread:
    def work() -> None:
        pub = Publisher(Broker.from_url(url), f"test-pub-{uuid.uuid4().hex[:8]}")

        def send(e: dict[str, object]) -> None:
            ids.append(str(e["id"]))
            pub.publish(str(e["site"]), str(e["machine"]), e)

        run_fleet(fleet_events(fleet, seed=11), send, rate_hz=rate_hz, count=n, backlog=pub.backlog)
        assert pub.close(timeout_s=60)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    return t


def _ids(engine: Engine) -> set[str]:
    with engine.connect() as c:
        return {r[0] for r in c.execute(select(machine_events.c.message_id))}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield create_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
        return
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"tel_{uuid.uuid4().hex[:10]}"  # the database `test` is shared: a schema of our own
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    # the schema as search path, so that the store's own DDL (the day partitions) lands there too
    eng = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_fleet_through_shared_mosquitto_exact_counts(engine: Engine) -> None:
    require_service("Mosquitto", "127.0.0.1", 1883)
    site = f"t{uuid.uuid4().hex[:8]}"
    url, n = "mqtt://127.0.0.1:1883", 4000
    sink = SqlEventSink(engine)
    cfg = IngestConfig(broker=Broker.from_url(url), client_id=f"test-ingest-{site}",
                       subscription=f"fabgrid/{site}/+/+", session_expiry_s=60, batch_size=500)
    ingest = MqttIngest(cfg, sink)
    runner = threading.Thread(target=lambda: ingest.run(until=lambda s: s.stored >= n, duration_s=60))
    runner.start()
    deadline = time.monotonic() + 10
    while ingest.stats.connects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # subscription in place before the first message
    ids: list[str] = []
    _publish(url, _fleet(site), n, 0, ids).join(60)
    runner.join(70)
    assert sink.count() == n
    assert _ids(engine) == set(ids) and len(ids) == n
    assert ingest.stats.rejected == 0
    assert ingest.stats.stored == n and ingest.stats.duplicates == 0  # the sink reports what was new


def _wait_subscribed(url: str, engine: Engine, timeout_s: float = 60) -> None:
    """Publish one warm-up event (always the same id) until the ingest has stored it."""
    pub = Publisher(Broker.from_url(url), f"test-warmup-{uuid.uuid4().hex[:8]}")
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            pub.publish("warm", "up", {"id": "warm-up", "ts": "2026-01-01T00:00:00Z", "type": "state",
                                       "state": "idle"})
            time.sleep(0.5)
            if "warm-up" in _ids(engine):
                return
        raise AssertionError("the ingest did not subscribe in time")
    finally:
        pub.close(5)


def _ingest_proc(url: str, db: str, client_id: str, expect: int | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "fabgrid.cli", "ingest", "--mqtt", url, "--database-url", db,
           "--client-id", client_id, "--duration", "120", "--batch-size", "200", "--json"]
    if expect is not None:
        cmd += ["--expect", str(expect)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_ingest_killed_mid_stream_loses_and_doubles_nothing(private_broker: PrivateBroker,
                                                             tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'restart.db'}"
    n = 5000
    engine = create_engine(db)
    SqlEventSink(engine)  # create the table so that the test can poll it
    first = _ingest_proc(private_broker.url, db, "restart-ingest")
    _wait_subscribed(private_broker.url, engine)  # the persistent session exists from here on
    ids: list[str] = []
    pub = _publish(private_broker.url, _fleet("r1"), n, 1500, ids)
    deadline = time.monotonic() + 60
    while SqlEventSink(engine, create=False).count() < n // 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # no clean shutdown: unacknowledged messages stay at the broker
    first.wait(10)
    at_kill = SqlEventSink(engine, create=False).count()
    time.sleep(1.0)  # the fleet keeps publishing while no ingest runs
    # the killed process can write no more: the second run must store exactly the rest
    second = _ingest_proc(private_broker.url, db, "restart-ingest", expect=n + 1 - at_kill)
    pub.join(60)
    out, _ = second.communicate(timeout=90)
    stats = json.loads(out)
    final = _ids(engine)
    print(f"restart test: published {len(ids)}, stored before kill {at_kill}, "
          f"stored after restart {stats['stored']}, redelivered duplicates {stats['duplicates']}, "
          f"final rows {len(final)}")
    assert 0 < at_kill < n
    assert len(ids) == n and final == set(ids) | {"warm-up"}
    assert at_kill + stats["stored"] == n + 1


def test_broker_restart_mid_stream(private_broker: PrivateBroker, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'broker.db'}")
    sink = SqlEventSink(engine)
    n = 5000
    cfg = IngestConfig(broker=Broker.from_url(private_broker.url), client_id="broker-restart-ingest",
                       batch_size=200)
    ingest = MqttIngest(cfg, sink)
    runner = threading.Thread(target=lambda: ingest.run(until=lambda s: s.stored >= n, duration_s=90))
    runner.start()
    while ingest.stats.connects == 0:
        time.sleep(0.05)
    time.sleep(0.3)
    ids: list[str] = []
    pub = _publish(private_broker.url, _fleet("b1"), n, 1500, ids)
    while sink.count() < n // 3:
        time.sleep(0.05)
    private_broker.stop()
    at_stop = sink.count()
    time.sleep(1.5)
    private_broker.start()
    pub.join(60)
    runner.join(90)
    final = _ids(engine)
    print(f"broker restart: published {len(ids)}, stored at broker stop {at_stop}, final rows {len(final)}, "
          f"ingest connects {ingest.stats.connects}, duplicates dropped {ingest.stats.duplicates}")
    assert ingest.stats.connects >= 2 and at_stop < n
    assert len(ids) == n and final == set(ids)


def test_paced_fleet_sends_each_message_while_it_waits() -> None:
    """At a low rate nothing sits in the publisher's buffer until the next event: the fleet's pauses
    send and take acknowledgements (Publisher.wait)."""
    require_service("Mosquitto", "127.0.0.1", 1883)
    from mqtt5 import PublishPacket

    from fabgrid.telemetry.mqtt_wire import Connection, Session

    site = f"p{uuid.uuid4().hex[:8]}"
    sub = Connection("127.0.0.1", 1883, Session(f"test-sub-{site}", clean_start=True, session_expiry_s=0))
    sub.subscribe(f"fabgrid/{site}/+/+")
    arrivals: list[float] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set() and len(arrivals) < 3:
            arrivals.extend(time.monotonic() for p in sub.read(0.05) if isinstance(p, PublishPacket))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    # buffer thresholds no event reaches: only the pacing can send before close()
    pub = Publisher(Broker.from_url("mqtt://127.0.0.1:1883"), f"test-pub-{site}", flush_bytes=1 << 20, flush_s=60.0)
    events = ({"id": f"{site}-{i}", "ts": "2026-11-21T00:00:00Z", "site": site, "machine": "m1", "type": "state",
               "state": "idle"} for i in range(3))
    t0 = time.monotonic()
    run_fleet(events, lambda e: pub.publish(site, "m1", e), rate_hz=2.0, count=3, wait=pub.wait)
    assert pub.close(10)
    listener.join(5)
    done.set()
    sub.close()
    assert len(arrivals) == 3
    # the events are due at 0, 0.5 and 1.0 s; the first two arrive before the next one is due
    assert arrivals[0] - t0 < 0.45 and arrivals[1] - t0 < 0.95
