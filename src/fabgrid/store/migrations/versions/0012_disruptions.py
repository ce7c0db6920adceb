"""The park operator's disruptions (issue 22): `network_disruptions` (a site closed, a machine down, a province's
logistics halted, a route cut or a material short, over a window, with the moves it applied and its cancellation).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Only additions: nothing existing changes (the older `disruptions` table of "close a site N days" stays).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "network_disruptions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("start_at", TS, nullable=False),
        sa.Column("end_at", TS, nullable=True),
        sa.Column("declared_by", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("moves", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("cancelled_at", TS, nullable=True),
    )
    op.create_index("ix_network_disruptions_created_at", "network_disruptions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_network_disruptions_created_at", table_name="network_disruptions")
    op.drop_table("network_disruptions")
