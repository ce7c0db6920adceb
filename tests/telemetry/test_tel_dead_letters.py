"""Issue 16, item 5: a message the ingest cannot store is parked in a dead-letter table with the reason and the
raw payload, acknowledged, and counted; the good messages behind it are stored. Real Mosquitto (a private one:
its persistent session is the redelivery under test), SQLite and PostgreSQL, the `fabgrid ingest` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, select
from tel_helpers import PrivateBroker

from fabgrid.services.telemetry import SqlDeadLetters, SqlEventSink
from fabgrid.store.telemetry import DeadLetterStore, EventsRefused, MachineEventStore, refusal
from fabgrid.store.telemetry_tables import machine_events
from fabgrid.telemetry.mqtt import Broker, IngestConfig, MqttIngest, Publisher, check

pytestmark = pytest.mark.integration

TS = "2026-03-01T08:00:00+00:00"
LONG_MACHINE = "m" * 100  # wider than machine_events.machine (64)


def _bad_messages() -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected words of the reason) of each kind of message the issue names, and cousins."""
    state = "fabgrid/s1/m1/state"
    return [
        (state, orjson.dumps({"id": "bad-ts", "ts": "not-a-date", "state": "idle"}), "ISO 8601"),
        (state, orjson.dumps({"id": "x" * 1000, "ts": TS, "state": "idle"}), "1000 characters"),
        (state, orjson.dumps({"id": "nul\x00id", "ts": TS, "state": "idle"}), "control characters"),
        (state, b"\xff{ not json", "not JSON"),
        (state, b"[1, 2, 3]", "not a JSON object"),
        (f"fabgrid/s1/{LONG_MACHINE}/state", orjson.dumps({"id": "long-machine", "ts": TS, "state": "idle"}),
         "machine"),
    ]


def _good(i: int) -> tuple[str, bytes]:
    return "fabgrid/s1/m1/state", orjson.dumps({"id": f"good-{i}", "ts": TS, "state": "idle"})


def _ingest(url: str, db: str, *args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "fabgrid.cli", "ingest", "--mqtt", url, "--database-url", db,
                          "--client-id", "dead-letter-ingest", "--no-sparkplug", "--json", *args],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    doc: dict[str, object] = json.loads(out.stdout)
    return doc


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ingest.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def test_bad_messages_are_parked_acknowledged_and_the_rest_stored(private_broker: PrivateBroker, db: str) -> None:
    _ingest(private_broker.url, db, "--duration", "1")  # the persistent session (and the tables) from here on
    bad, n_good = _bad_messages(), 60
    pub = Publisher(Broker.from_url(private_broker.url), f"dl-pub-{uuid.uuid4().hex[:6]}")
    for i in range(n_good):  # the bad ones in the middle of the stream, several in one batch
        if i == 20:
            for topic, payload, _ in bad:
                pub.publish_raw(topic, payload)
        pub.publish_raw(*_good(i))
    assert pub.close(timeout_s=30)

    stats = _ingest(private_broker.url, db, "--expect", str(n_good), "--duration", "60", "--batch-size", "500")
    assert stats["stored"] == n_good and stats["parked"] == len(bad)
    assert stats["rejected"] == 5  # not events (the sixth, a 100-character machine id, is refused by the store)
    reasons = "\n".join(str(r) for r in stats["parked_reasons"])  # type: ignore[union-attr]
    for _topic, _payload, words in bad:
        assert words in reasons, (words, reasons)

    letters = DeadLetterStore(db, create=False).recent()
    assert len(letters) == len(bad)
    assert {bytes(ltr["payload"]) for ltr in letters} == {p for _t, p, _w in bad}  # the raw payload, as sent
    assert any(ltr["message_id"] == "nul\\x00id" for ltr in letters)  # escaped, so that PostgreSQL keeps it
    engine = create_engine(db.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        ids = {r[0] for r in c.execute(select(machine_events.c.message_id))}
    engine.dispose()
    assert ids == {f"good-{i}" for i in range(n_good)}

    again = _ingest(private_broker.url, db, "--duration", "2")  # everything was acknowledged: no redelivery
    assert again["received"] == 0 and again["parked"] == 0


def test_batch_refused_by_postgresql_is_halved_and_only_the_bad_rows_parked(private_broker: PrivateBroker,
                                                                           pg_url: str) -> None:
    """Without the up-front check (refusal=None) PostgreSQL itself refuses the batch (varchar(64)); the ingest
    halves it until the refused rows are found, parks them and stores the others."""
    sink, letters = SqlEventSink(pg_url), SqlDeadLetters(pg_url)
    cfg = IngestConfig(broker=Broker.from_url(private_broker.url), client_id="halving-ingest", batch_size=1000,
                       batch_wait_s=0.5, refused_errors=(EventsRefused,))
    ingest = MqttIngest(cfg, sink, dead_letters=letters, refusal=None)
    n_good = 300
    runner = threading.Thread(target=lambda: ingest.run(until=lambda s: s.stored + s.parked >= n_good + 2,
                                                        duration_s=60))
    runner.start()
    while ingest.stats.connects == 0:
        time.sleep(0.05)
    time.sleep(0.3)
    pub = Publisher(Broker.from_url(private_broker.url), "halving-pub")
    for i in range(n_good):
        if i in (7, 211):
            pub.publish_raw(f"fabgrid/s1/{LONG_MACHINE}/state",
                            orjson.dumps({"id": f"long-{i}", "ts": TS, "state": "idle"}))
        pub.publish_raw(*_good(i))
    assert pub.close(timeout_s=30)
    runner.join(70)
    assert ingest.stats.stored == n_good and ingest.stats.parked == 2
    assert sink.count() == n_good and letters.count() == 2
    assert all("refused by the storage" in r and "too long" in r for r in ingest.stats.parked_reasons)
    assert ingest.stats.batches <= 3  # one batch of 302 (or a few), not one write per message


def test_store_says_why_before_it_writes_and_refuses_the_batch_otherwise(db: str) -> None:
    store = MachineEventStore(db)
    good = {"id": "ok", "ts": TS, "site": "s1", "machine": "m1", "type": "state", "state": "idle"}
    assert refusal(good) is None
    assert "ISO 8601" in str(refusal({**good, "ts": "not-a-date"}))
    assert "200" in str(refusal({**good, "id": "x" * 1000}))
    assert "control" in str(refusal({**good, "id": "a\x00b"}))
    assert "JSON" in str(refusal({**good, "big": 2 ** 70}))
    with pytest.raises(EventsRefused):  # SQLite: the time; PostgreSQL: the time as well
        store.add([good, {**good, "id": "bad", "ts": "not-a-date"}])
    assert store.count() == 0  # nothing of the refused batch was written
    assert store.add([good, {**good, "ts": "2026-03-01T08:00:00"}]) == 1  # a naive time is UTC; one id once
    assert store.last_event_at() == datetime(2026, 3, 1, 8, tzinfo=UTC)


def test_check_names_what_is_wrong() -> None:
    for topic, payload, words in _bad_messages()[:5]:
        why = check(topic, payload)
        assert isinstance(why, str) and words in why
    ev = check(*_good(1))
    assert isinstance(ev, dict) and ev["machine"] == "m1"
    assert check("fabgrid/s1/m1/nonsense", b"{}") == \
        "topic 'fabgrid/s1/m1/nonsense' is not fabgrid/<site>/<machine>/<kind> with a known kind"
