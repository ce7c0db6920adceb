"""A job's progress and task key (issue 21, item 1): `progress` (0..1) and `progress_note` that a running job
reports and the pages show, and `task_key`, which makes a second request for the same work (e.g. re-planning one
site) join the job already queued or running instead of adding a duplicate.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04

Additions only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("progress", sa.Float(), nullable=True))
        batch.add_column(sa.Column("progress_note", sa.String(200), nullable=True))
        batch.add_column(sa.Column("task_key", sa.String(200), nullable=True))
    op.create_index("ix_jobs_task_key", "jobs", ["task_key"])


def downgrade() -> None:
    op.drop_index("ix_jobs_task_key", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("task_key")
        batch.drop_column("progress_note")
        batch.drop_column("progress")
