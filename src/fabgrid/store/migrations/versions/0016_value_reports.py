"""Value reports (issue 22, item 4): `value_reports`, the operator's comparisons of the traditional and the
fabgrid policy run by the simulator in the background (options, job, progress, document and charts), kept so
the page lists past reports.

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-03

Only additions: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "value_reports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("runs_done", sa.Integer(), nullable=False),
        sa.Column("runs_total", sa.Integer(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=True),
        sa.Column("charts", sa.JSON(), nullable=True),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_value_reports_created_at", "value_reports", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_value_reports_created_at", table_name="value_reports")
    op.drop_table("value_reports")
