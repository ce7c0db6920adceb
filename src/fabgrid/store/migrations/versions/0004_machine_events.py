"""Machine events: every telemetry message stored once, keyed by its message id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

The ingest creates this table itself when it writes to a database that was never migrated, so the
migration only creates what is missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "machine_events" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "machine_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.UniqueConstraint("message_id", name="uq_machine_events_message_id"),
    )
    op.create_index("ix_machine_events_machine_ts", "machine_events", ["machine", "ts"])
    op.create_index("ix_machine_events_site_ts", "machine_events", ["site", "ts"])


def downgrade() -> None:
    op.drop_table("machine_events")
