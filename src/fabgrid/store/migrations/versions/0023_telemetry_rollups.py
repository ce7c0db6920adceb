"""Hourly roll-ups of machine telemetry (issue 21, item 3): `machine_hours` (per machine and UTC hour, the ISO
22400-2 elements and the state and power in force at the hour's end), `telemetry_rollups` (how far they reach),
and an index on `machine_events.ts` for the retention's deletes.

Revision ID: 0023
Revises: 0020
Create Date: 2026-12-03

Additions only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0020"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ELEMENTS = ("pot_s", "pdot_s", "pbt_s", "apt_s", "asut_s", "adet_s", "idle_s", "offline_s", "aupt_s",
            "aubt_s", "aoet_s", "pq", "gq", "sq", "rq", "planned_time_s", "energy_kwh", "value_added_cny")


def upgrade() -> None:
    op.create_table(
        "machine_hours",
        sa.Column("machine", sa.String(64), primary_key=True),
        sa.Column("hour", TS, primary_key=True),
        sa.Column("site", sa.String(64), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=False) for name in ELEMENTS),
        sa.Column("state_end", sa.String(32), nullable=True),
        sa.Column("power_w_end", sa.Float(), nullable=True),
    )
    op.create_index("ix_machine_hours_hour", "machine_hours", ["hour"])
    op.create_table(
        "telemetry_rollups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rolled_from", TS, nullable=False),
        sa.Column("rolled_until", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_machine_events_ts", "machine_events", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_machine_events_ts", table_name="machine_events")
    op.drop_table("telemetry_rollups")
    op.drop_index("ix_machine_hours_hour", table_name="machine_hours")
    op.drop_table("machine_hours")
