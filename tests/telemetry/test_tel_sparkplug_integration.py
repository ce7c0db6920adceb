"""Sparkplug B end to end through the shared Mosquitto: `fabgrid fleet --format sparkplug` -> MQTT ingest
with the Sparkplug host -> SQLite holds exactly the fleet's events (and one offline per machine at NDEATH)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from tel_helpers import require_service

from fabgrid.data import load_network
from fabgrid.services.telemetry import SqlEventSink, iter_events
from fabgrid.telemetry.events import parse_ts
from fabgrid.telemetry.fleet import SimMachine, fleet_events
from fabgrid.telemetry.mqtt import Broker, IngestConfig, MqttIngest
from fabgrid.telemetry.sparkplug import SparkplugHost

pytestmark = pytest.mark.integration

SITE, START, SEED, N = "cs-jingkai-01", "2026-03-02T00:00:00Z", 3, 3000


def _expected(group: str) -> list[dict[str, Any]]:
    network = load_network()
    s = network.sites[SITE]
    machines = [SimMachine(s.id, m.id, network.machine_model(m)) for m in s.machines]
    out = []
    for ev in fleet_events(machines, seed=SEED, start_s=parse_ts(START, "start")):
        out.append({**ev, "site": group})
        if len(out) == N:
            return out
    raise AssertionError("the fleet stream ended")


def _key(ev: dict[str, Any]) -> str:
    # times compared as instants (the database gives them back with +00:00 instead of Z)
    body = {k: v for k, v in ev.items() if k not in ("id", "ts")}
    return json.dumps({**body, "t": datetime.fromisoformat(ev["ts"]).timestamp()}, sort_keys=True)


def test_fleet_sparkplug_to_sqlite_exact_events(tmp_path: Path) -> None:
    require_service("Mosquitto", "127.0.0.1", 1883)
    group = f"t{uuid.uuid4().hex[:8]}"
    url = "mqtt://127.0.0.1:1883"
    engine = create_engine(f"sqlite:///{tmp_path / 'spb.db'}")
    sink = SqlEventSink(engine)
    host = SparkplugHost(groups=(group,))
    n_machines = len(load_network().sites[SITE].machines)
    cfg = IngestConfig(broker=Broker.from_url(url), client_id=f"test-spb-{group}", subscription=f"fabgrid/{group}/+/+",
                       session_expiry_s=60, batch_size=500)
    ingest = MqttIngest(cfg, sink, families=(host,))
    runner = threading.Thread(target=lambda: ingest.run(until=lambda s: s.stored >= N + n_machines, duration_s=90))
    runner.start()
    deadline = time.monotonic() + 10
    while ingest.stats.connects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # subscriptions in place before the NBIRTH
    cmd = [sys.executable, "-m", "fabgrid.cli", "fleet", "--site", SITE, "--mqtt", url, "--format", "sparkplug",
           "--group", group, "--count", str(N), "--rate", "0", "--seed", str(SEED), "--start", START, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["published"] == N and report["unacked"] == 0 and report["edge_node"] == f"{group}-edge"
    runner.join(100)
    stats = ingest.stats
    spb = stats.families["sparkplug"]
    print(f"sparkplug e2e: {report['messages']} MQTT messages for {N} events in {report['elapsed_s']} s; "
          f"ingest stored {stats.stored}, sparkplug stats {spb}")
    stored = list(iter_events(engine))
    deaths = [e for e in stored if e["id"].endswith(":NDEATH")]
    assert len(deaths) == n_machines and {(e["type"], e["state"]) for e in deaths} == {("state", "offline")}
    rest = [e for e in stored if e not in deaths]
    assert Counter(_key(e) for e in rest) == Counter(_key(e) for e in _expected(group))
    assert stats.rejected == 0 and stats.duplicates == 0 and stats.stored == N + n_machines
    assert spb["births"] == 1 + n_machines and spb["deaths"] == 1 and spb["messages"] == report["messages"]
    assert spb["seq_gaps"] == 0 and spb["unmapped_metrics"] == 0 and spb["unknown_aliases"] == 0
    assert spb["rebirth_requests"] == 0
