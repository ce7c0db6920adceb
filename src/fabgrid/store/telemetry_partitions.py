"""`machine_events` on PostgreSQL is partitioned by time (issue 21, item 3): native range partitions of one UTC day
each, `machine_events_pYYYYMMDD`, made when the first event of a day arrives, and a default partition,
`machine_events_default`, for times outside 2000..2099 (a machine whose clock is wrong), so no day partition
ever overlaps what the default holds. The retention drops whole days (`drop_before`) instead of deleting rows.

The key of an event is its message id and its time (`UNIQUE (message_id, ts)`: a partitioned table's unique
key must hold the partition key); a redelivered MQTT message carries the same time, so it is still stored once.
SQLite keeps one table. Depends on SQLAlchemy only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, text

PARENT = "machine_events"
DEFAULT_PARTITION = "machine_events_default"
#: Day partitions exist for event times in [FIRST_DAY, END_DAY); other times go to the default partition.
FIRST_DAY = date(2000, 1, 1)
END_DAY = date(2100, 1, 1)
#: PostgreSQL advisory lock held while a partition is made, so that two ingest processes never race.
_LOCK_KEY = 74_022_102
_NAME = re.compile(r"^machine_events_p(\d{8})$")

#: The partitioned table; the same layout as migration 0027 makes (a migration is a snapshot of its time).
CREATE_DDL = (
    "CREATE TABLE machine_events ("
    " id bigserial NOT NULL, message_id varchar(200) NOT NULL, ts timestamptz NOT NULL,"
    " received_at timestamptz NOT NULL, site varchar(64), machine varchar(64) NOT NULL,"
    " kind varchar(16) NOT NULL, payload json NOT NULL,"
    " CONSTRAINT machine_events_pkey PRIMARY KEY (id, ts),"
    " CONSTRAINT uq_machine_events_message_ts UNIQUE (message_id, ts)"
    ") PARTITION BY RANGE (ts)",
    "CREATE INDEX ix_machine_events_machine_ts ON machine_events (machine, ts)",
    "CREATE INDEX ix_machine_events_site_ts ON machine_events (site, ts)",
    "CREATE INDEX ix_machine_events_ts ON machine_events (ts)",
    f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF machine_events DEFAULT",
)


def partition_name(day: date) -> str:
    """The name of the partition holding the events of UTC `day`."""
    return f"machine_events_p{day:%Y%m%d}"


def day_of(ts: datetime) -> date | None:
    """The UTC day whose partition holds an event at `ts` (None: the default partition's)."""
    d = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC).date()
    return d if FIRST_DAY <= d < END_DAY else None


def is_partitioned(conn: Connection) -> bool | None:
    """Whether `machine_events` is a partitioned table (None: there is no such table)."""
    kind = conn.scalar(text("SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE c.relname = :t AND n.nspname = current_schema()"), {"t": PARENT})
    return None if kind is None else kind == "p"


def create(conn: Connection) -> bool:
    """Make the partitioned table with its indexes and default partition (a database never migrated), unless
    another process made a table meanwhile; whether the table is partitioned then."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    found = is_partitioned(conn)
    if found is not None:
        return found
    for stmt in CREATE_DDL:
        conn.execute(text(stmt))
    return True


def ensure_days(engine: Engine, days: Iterable[date]) -> list[date]:
    """Make the partitions of `days` that do not exist yet, in a transaction of their own under an advisory
    lock (the insert that needs them then never holds the parent's lock); returns the days it made."""
    wanted = sorted(set(days))
    if not wanted:
        return []
    made = []
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        have = set(existing(conn))
        for d in wanted:
            if d in have:
                continue
            upper = d + timedelta(days=1)
            conn.execute(text(f"CREATE TABLE {partition_name(d)} PARTITION OF {PARENT} FOR VALUES "
                              f"FROM ('{d.isoformat()} 00:00:00+00') TO ('{upper.isoformat()} 00:00:00+00')"))
            made.append(d)
    return made


def existing(conn: Connection) -> list[date]:
    """The days that have a partition, in order."""
    rows = conn.execute(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                             "WHERE i.inhparent = CAST(:t AS regclass)"), {"t": PARENT}).scalars()
    out = []
    for name in rows:
        m = _NAME.match(str(name))
        if m:
            out.append(datetime.strptime(m.group(1), "%Y%m%d").date())
    return sorted(out)


def drop_before(conn: Connection, before: datetime) -> int:
    """Drop the day partitions that end at or before `before` (UTC); returns how many events they held."""
    limit = before.astimezone(UTC)
    gone = 0
    for d in existing(conn):
        if datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1) > limit:
            break
        name = partition_name(d)
        gone += int(conn.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
        conn.execute(text(f"DROP TABLE {name}"))
    return gone
