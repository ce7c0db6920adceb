"""Machine events partitioned by time (issue 21, item 3): on PostgreSQL `machine_events` becomes a table
partitioned by range of `ts`, one partition per UTC day (`machine_events_pYYYYMMDD`, made by the ingest when a
day's first event arrives) and a default partition for times outside 2000..2099; the stored events are copied
into it. The key of an event becomes `(message_id, ts)` (a partitioned table's unique key must hold the partition
key; a redelivered message carries the same time), on SQLite too. The retention then drops whole days.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04

The table's layout is written out here (a migration is a snapshot); `store.telemetry_partitions` makes the same
for a database the ingest writes to without migrating it.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

COLUMNS = "id, message_id, ts, received_at, site, machine, kind, payload"
PARTITIONED = (
    "CREATE TABLE machine_events ("
    " id bigserial NOT NULL, message_id varchar(200) NOT NULL, ts timestamptz NOT NULL,"
    " received_at timestamptz NOT NULL, site varchar(64), machine varchar(64) NOT NULL,"
    " kind varchar(16) NOT NULL, payload json NOT NULL,"
    " CONSTRAINT machine_events_pkey PRIMARY KEY (id, ts),"
    " CONSTRAINT uq_machine_events_message_ts UNIQUE (message_id, ts)"
    ") PARTITION BY RANGE (ts)",
    "CREATE TABLE machine_events_default PARTITION OF machine_events DEFAULT",
)
PLAIN = (
    "CREATE TABLE machine_events ("
    " id bigserial NOT NULL, message_id varchar(200) NOT NULL, ts timestamptz NOT NULL,"
    " received_at timestamptz NOT NULL, site varchar(64), machine varchar(64) NOT NULL,"
    " kind varchar(16) NOT NULL, payload json NOT NULL,"
    " CONSTRAINT machine_events_pkey PRIMARY KEY (id),"
    " CONSTRAINT uq_machine_events_message_id UNIQUE (message_id))",
)
INDEXES = ("CREATE INDEX ix_machine_events_machine_ts ON machine_events (machine, ts)",
           "CREATE INDEX ix_machine_events_site_ts ON machine_events (site, ts)",
           "CREATE INDEX ix_machine_events_ts ON machine_events (ts)")


def _relkind(bind: sa.Connection) -> str | None:
    kind = bind.scalar(sa.text("SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE c.relname = 'machine_events' AND n.nspname = current_schema()"))
    return None if kind is None else str(kind)


def _set_aside(bind: sa.Connection) -> None:
    """Rename the current table, its key index and its sequence, and drop its indexes (their names are taken
    by the new table's)."""
    for ix in ("ix_machine_events_machine_ts", "ix_machine_events_site_ts", "ix_machine_events_ts"):
        bind.execute(sa.text(f"DROP INDEX IF EXISTS {ix}"))
    bind.execute(sa.text("ALTER TABLE machine_events RENAME TO machine_events_old"))
    bind.execute(sa.text("ALTER INDEX IF EXISTS machine_events_pkey RENAME TO machine_events_old_pkey"))
    bind.execute(sa.text("ALTER SEQUENCE IF EXISTS machine_events_id_seq RENAME TO machine_events_old_id_seq"))


def _copy_back(bind: sa.Connection) -> None:
    bind.execute(sa.text(f"INSERT INTO machine_events ({COLUMNS}) SELECT {COLUMNS} FROM machine_events_old "
                         "ORDER BY id ON CONFLICT DO NOTHING"))
    bind.execute(sa.text("SELECT setval('machine_events_id_seq', "
                         "GREATEST((SELECT max(id) FROM machine_events), 1))"))
    bind.execute(sa.text("DROP TABLE machine_events_old"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("machine_events", recreate="always") as batch:
            batch.drop_constraint("uq_machine_events_message_id", type_="unique")
            batch.create_unique_constraint("uq_machine_events_message_ts", ["message_id", "ts"])
        return
    kind = _relkind(bind)
    if kind == "p":  # made partitioned by the ingest already
        return
    if kind is not None:
        _set_aside(bind)
    for stmt in (*PARTITIONED, *INDEXES):
        bind.execute(sa.text(stmt))
    if kind is None:
        return
    days = bind.execute(sa.text("SELECT DISTINCT CAST(ts AT TIME ZONE 'UTC' AS date) FROM machine_events_old "
                                "WHERE ts >= '2000-01-01 00:00:00+00' AND ts < '2100-01-01 00:00:00+00'")).scalars()
    for d in sorted(days):
        bind.execute(sa.text(f"CREATE TABLE machine_events_p{d:%Y%m%d} PARTITION OF machine_events FOR VALUES "
                             f"FROM ('{d.isoformat()} 00:00:00+00') TO ('{d + timedelta(days=1)} 00:00:00+00')"))
    _copy_back(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("machine_events", recreate="always") as batch:
            batch.drop_constraint("uq_machine_events_message_ts", type_="unique")
            batch.create_unique_constraint("uq_machine_events_message_id", ["message_id"])
        return
    if _relkind(bind) != "p":
        return
    _set_aside(bind)
    for stmt in (*PLAIN, *INDEXES):
        bind.execute(sa.text(stmt))
    _copy_back(bind)  # one event per message id again: a later time of the same id is dropped
