"""Several `fabgrid ingest` processes on one MQTT 5 shared subscription (`--share GROUP`) into PostgreSQL:
the broker splits the messages between them, and when one is killed with SIGKILL mid-stream and started
again (as its supervisor would), every message has exactly one row. A private Mosquitto; a database of
the test's own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from tel_helpers import PrivateBroker, require_service
from test_tel_mqtt_integration import _fleet, _publish

from fabgrid.errors import InputError
from fabgrid.store.telemetry_tables import machine_events
from fabgrid.telemetry.mqtt import Broker, Publisher, shared

pytestmark = pytest.mark.integration

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_url() -> Iterator[str]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"fabgrid_share_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _proc(url: str, db: str, client_id: str, out: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "fabgrid.cli", "ingest", "--mqtt", url, "--database-url", db, "--out", str(out),
           "--share", "ingest", "--no-sparkplug", "--client-id", client_id, "--duration", "150",
           "--batch-size", "200", "--json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _ids_in(path: Path) -> set[str]:
    if not path.exists():
        return set()
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            ids.add(str(json.loads(line)["id"]))
        except (ValueError, KeyError):
            continue  # a line being written
    return ids


def _until_received(url: str, out: Path, tag: str, procs: list[subprocess.Popen[str]],
                    timeout_s: float = 60) -> None:
    """Publish warm-up events with fresh ids until one has reached the ingest that writes `out` (the broker
    gives each message of a shared subscription to one member, so this also proves the member joined)."""
    pub = Publisher(Broker.from_url(url), f"warm-{uuid.uuid4().hex[:8]}")
    deadline, k = time.monotonic() + timeout_s, 0
    try:
        while time.monotonic() < deadline:
            for p in procs:
                assert p.poll() is None, f"an ingest exited early: {p.stderr.read() if p.stderr else ''}"
            k += 1
            pub.publish("warm", "up", {"id": f"warm-{tag}-{k}", "ts": "2026-01-01T00:00:00Z", "type": "state",
                                       "state": "idle"})
            time.sleep(0.3)
            if any(i.startswith(f"warm-{tag}-") for i in _ids_in(out)):
                return
        raise AssertionError(f"ingest {tag} did not join the shared subscription in time")
    finally:
        pub.close(5)


def _rows(engine: Engine) -> tuple[int, set[str]]:
    with engine.connect() as c:
        n = int(c.execute(select(func.count()).select_from(machine_events)).scalar_one())
        return n, {r[0] for r in c.execute(select(machine_events.c.message_id))}


def test_share_group_name_is_checked() -> None:
    assert shared("fabgrid/+/+/+", "ingest") == "$share/ingest/fabgrid/+/+/+"
    for bad in ("", "a/b", "a+b", "#", "x" * 65):
        with pytest.raises(InputError, match="share group"):
            shared("fabgrid/+/+/+", bad)


def test_two_shared_ingests_split_the_load_and_a_kill_loses_and_doubles_nothing(
        private_broker: PrivateBroker, pg_url: str, tmp_path: Path) -> None:
    out_a, out_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a = _proc(private_broker.url, pg_url, "share-a", out_a)
    procs = [a]
    try:
        _until_received(private_broker.url, out_a, "a", procs)  # a created the schema and joined
        b = _proc(private_broker.url, pg_url, "share-b", out_b)
        procs.append(b)
        _until_received(private_broker.url, out_b, "b", procs)
        engine = create_engine(pg_url)
        n, ids = 6000, []  # type: ignore[var-annotated]
        pub = _publish(private_broker.url, _fleet("s1"), n, 1500, ids)
        deadline = time.monotonic() + 60
        while _rows(engine)[0] < n // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        b.send_signal(signal.SIGKILL)  # mid-stream, no clean shutdown: its unacknowledged messages stay queued
        b.wait(10)
        b_before = _ids_in(out_b)
        time.sleep(1.0)  # the fleet keeps publishing while b is down
        b = _proc(private_broker.url, pg_url, "share-b", out_b)  # its supervisor starts it again, same session
        procs.append(b)
        pub.join(90)
        assert len(ids) == n
        deadline = time.monotonic() + 90
        while not set(ids) <= _rows(engine)[1] and time.monotonic() < deadline:
            time.sleep(0.2)
        for p in (a, b):
            p.send_signal(signal.SIGINT)  # stop: stores what it holds, prints its figures
        stats = [json.loads(p.communicate(timeout=60)[0]) for p in (a, b)]
        rows, stored = _rows(engine)
        warm = {i for i in stored if i.startswith("warm-")}
        got_a, got_b = _ids_in(out_a) & set(ids), (_ids_in(out_b) | b_before) & set(ids)
        print(f"shared ingest: published {n}, rows {rows - len(warm)}, to a {len(got_a)}, to b {len(got_b)} "
              f"(b killed after {len(b_before & set(ids))}), redelivered duplicates "
              f"{sum(s['duplicates'] for s in stats)}")
        assert stored - warm == set(ids)  # none lost
        assert rows == len(stored)  # none doubled
        assert got_a and got_b and got_a | got_b == set(ids)  # both members took a share
        engine.dispose()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
