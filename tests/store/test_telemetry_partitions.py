"""Machine events partitioned by day on PostgreSQL (issue 21, item 3): the ingest's store makes the table and a
day's partition when its first event comes, a redelivered batch is stored once, a clock outside 2000..2099 lands
in the default partition, two processes making the same day's partition do not collide, the retention drops whole
days, and migration 0027 turns a table of events into the partitioned one without losing or doubling one (and
back). On SQLite the key becomes (message_id, ts) by the same migration."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from fabgrid.store import telemetry_partitions as partitions
from fabgrid.store.db import alembic_config, get_engine, upgrade
from fabgrid.store.telemetry import MachineEventStore
from fabgrid.store.telemetry_rollups import RollupStore

T0 = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)


def _events(n: int, start: datetime = T0, step: timedelta = timedelta(hours=1), tag: str = "a") -> list[dict[str, Any]]:
    return [{"id": f"{tag}:{i}", "ts": (start + i * step).isoformat(), "site": "s1", "machine": f"m{i % 3}",
             "type": "power", "watts": 100.0 + i} for i in range(n)]


def _days(url: str) -> list[str]:
    with get_engine(url).connect() as conn:
        return [d.isoformat() for d in partitions.existing(conn)]


def _count(url: str, table: str) -> int:
    with get_engine(url).connect() as conn:
        return int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def _downgrade(url: str, revision: str) -> None:
    from alembic import command

    with get_engine(url).begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_the_store_partitions_by_day_and_stores_each_event_once(pg_url: str) -> None:
    store = MachineEventStore(pg_url)
    assert store.partitioned
    batch = _events(30)  # 20:00 on the 2nd to 01:00 on the 4th: three days
    assert store.add(batch) == 30
    assert _days(pg_url) == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert store.add(batch) == 0  # the broker delivered it again
    assert MachineEventStore(pg_url).add(batch[:5]) == 0  # another process (its own day cache) too
    assert _count(pg_url, "machine_events_p20261102") == 4 and _count(pg_url, "machine_events_p20261103") == 24
    wrong_clock = [{"id": "clock:1", "ts": "1970-01-01T00:00:05+00:00", "site": "s1", "machine": "m9",
                    "type": "power", "watts": 1.0}]
    assert store.add(wrong_clock) == 1
    assert _count(pg_url, partitions.DEFAULT_PARTITION) == 1 and len(_days(pg_url)) == 3
    got = list(store.events())
    assert [e["id"] for e in got] == ["clock:1"] + [e["id"] for e in batch]
    assert got[1]["watts"] == 100.0 and store.count() == 31


def test_two_processes_making_the_same_days_do_not_collide(pg_url: str) -> None:
    MachineEventStore(pg_url)
    errors: list[BaseException] = []
    stored: list[int] = []

    def ingest(tag: str) -> None:
        try:
            stored.append(MachineEventStore(pg_url).add(_events(50, tag=tag)))  # the same 3 days, new ids
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(stored) == [50, 50, 50, 50]
    assert _days(pg_url) == ["2026-11-02", "2026-11-03", "2026-11-04"]


def test_the_retention_drops_whole_days(pg_url: str) -> None:
    store = MachineEventStore(pg_url)
    store.add(_events(72, start=datetime(2026, 11, 2, tzinfo=UTC)))  # three whole days, hourly
    rollups = RollupStore(pg_url)
    gone = rollups.prune_events(datetime(2026, 11, 3, 12, tzinfo=UTC))
    assert gone == 24 + 12  # the 2nd's partition dropped, the 3rd's morning deleted
    assert _days(pg_url) == ["2026-11-03", "2026-11-04"]
    assert store.count() == 36
    assert min(datetime.fromisoformat(e["ts"]) for e in store.events()) == datetime(2026, 11, 3, 12, tzinfo=UTC)


def test_migration_0027_partitions_the_stored_events_and_back(pg_url: str) -> None:
    assert upgrade(pg_url, "0026") == "0026"
    old = MachineEventStore(pg_url, create=False)
    assert not old.partitioned
    assert old.add(_events(40)) == 40
    with get_engine(pg_url).connect() as conn:
        ids = sorted(conn.execute(text("SELECT id FROM machine_events")).scalars())
    assert upgrade(pg_url) not in (None, "0026")
    with get_engine(pg_url).connect() as conn:
        assert partitions.is_partitioned(conn) is True
        assert sorted(conn.execute(text("SELECT id FROM machine_events")).scalars()) == ids
    assert _days(pg_url) == ["2026-11-02", "2026-11-03", "2026-11-04"]
    new = MachineEventStore(pg_url, create=False)
    assert new.partitioned and new.add(_events(40)) == 0 and new.add(_events(2, tag="late")) == 2
    with get_engine(pg_url).connect() as conn:
        late = list(conn.execute(text("SELECT id FROM machine_events WHERE message_id LIKE 'late:%'")).scalars())
    assert len(late) == 2 and min(late) > max(ids)  # the sequence went on from the copied events
    _downgrade(pg_url, "0026")
    with get_engine(pg_url).connect() as conn:
        assert partitions.is_partitioned(conn) is False
    assert MachineEventStore(pg_url, create=False).count() == 42


def test_on_sqlite_the_key_is_message_and_time(sqlite_url: str) -> None:
    assert upgrade(sqlite_url, "0026") == "0026"
    assert MachineEventStore(sqlite_url, create=False).add(_events(10)) == 10
    upgrade(sqlite_url)
    store = MachineEventStore(sqlite_url)
    assert store.count() == 10 and store.add(_events(10)) == 0
    same_id_later = [dict(_events(1)[0], ts=(T0 + timedelta(days=9)).isoformat())]
    assert store.add(same_id_later) == 1  # a message id and its time make the key, as on PostgreSQL
