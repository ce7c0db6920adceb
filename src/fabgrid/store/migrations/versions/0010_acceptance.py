"""Factories accept, decline or propose a date (issue 18, item 4): `factory_responses` (a site's answer to a
line allocated to it: accepted, declined with a reason, or not answered in time, with where the line went and
what the move cost the platform) and `date_proposals` (a factory's proposed delivery date, the buyer's decision).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Only additions: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "factory_responses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line_id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("answer", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("allocated_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=False),
        sa.Column("reallocated_to", sa.String(64), nullable=True),
        sa.Column("platform_cost_cny", sa.Float(), nullable=True),
    )
    op.create_index("ix_factory_responses_order_id", "factory_responses", ["order_id"])
    op.create_index("ix_factory_responses_line_id", "factory_responses", ["line_id"])
    op.create_index("ix_factory_responses_site_id", "factory_responses", ["site_id"])
    op.create_table(
        "date_proposals",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line_id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("proposed_date", sa.String(10), nullable=False),
        sa.Column("previous_date", sa.String(10), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
    )
    op.create_index("ix_date_proposals_order_id", "date_proposals", ["order_id"])


def downgrade() -> None:
    op.drop_table("date_proposals")
    op.drop_table("factory_responses")
