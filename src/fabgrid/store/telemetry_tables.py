"""The `machine_events` table: every telemetry message stored once, keyed by its message id and time; and
`telemetry_dead_letters`, the messages that could not be stored.

SQLAlchemy Core on the shared `Base.metadata` (so Alembic sees it); the unique `(message_id, ts)` is what
makes MQTT's at-least-once delivery exactly-once in the database (a redelivered message carries the same time).
On PostgreSQL the table is partitioned by day (`store.telemetry_partitions`, which makes it there: its primary
key is `(id, ts)`). Depends on SQLAlchemy only.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from fabgrid.store.tables import Base

machine_events = Table(
    "machine_events",
    Base.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(200), nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("site", String(64), nullable=True),
    Column("machine", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    UniqueConstraint("message_id", "ts", name="uq_machine_events_message_ts"),
    Index("ix_machine_events_machine_ts", "machine", "ts"),
    Index("ix_machine_events_site_ts", "site", "ts"),
    Index("ix_machine_events_ts", "ts"),  # the retention's deletes (services.telemetry_rollups.prune)
)

telemetry_dead_letters = Table(
    "telemetry_dead_letters",
    Base.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(300), nullable=False),
    Column("message_id", String(200), nullable=True),
    Column("reason", String(500), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_telemetry_dead_letters_received_at", "received_at"),
)
"""Messages the ingest could not store (malformed, or refused by the database), with the reason and the raw
payload; the ingest acknowledges them, so one bad message never blocks the ones behind it."""
