"""Hostile input, races and dying workers: telemetry dead letters, job leases, order idempotency keys, login
throttling with its audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

`telemetry_dead_letters` keeps each message the ingest could not store (reason and raw payload);
`jobs.lease_until` is the claim's lease, renewed while the job runs, so a redelivered task reclaims the job of a
dead worker (`jobs.lost_runs` counts such deaths: a job that kills its worker again and again fails);
`idempotency_keys` maps (organisation, Idempotency-Key) to the order it made; `login_throttle` counts failed
log-ins per account and per client address; `auth_events` is the audit log of log-ins and
lock-outs. Only additions: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    if "telemetry_dead_letters" not in sa.inspect(bind).get_table_names():  # the ingest may have made it
        op.create_table(
            "telemetry_dead_letters",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                      autoincrement=True),
            sa.Column("received_at", TS, nullable=False),
            sa.Column("topic", sa.String(300), nullable=False),
            sa.Column("message_id", sa.String(200), nullable=True),
            sa.Column("reason", sa.String(500), nullable=False),
            sa.Column("payload", sa.LargeBinary(), nullable=False),
        )
        op.create_index("ix_telemetry_dead_letters_received_at", "telemetry_dead_letters", ["received_at"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lease_until", TS, nullable=True))
        batch.add_column(sa.Column("lost_runs", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "idempotency_keys",
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("locked_until", TS, nullable=True),
    )
    op.create_table(
        "auth_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
    )
    op.create_index("ix_auth_events_email", "auth_events", ["email"])


def downgrade() -> None:
    op.drop_index("ix_auth_events_email", table_name="auth_events")
    op.drop_table("auth_events")
    op.drop_table("login_throttle")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lost_runs")
        batch.drop_column("lease_until")
    op.drop_index("ix_telemetry_dead_letters_received_at", table_name="telemetry_dead_letters")
    op.drop_table("telemetry_dead_letters")
