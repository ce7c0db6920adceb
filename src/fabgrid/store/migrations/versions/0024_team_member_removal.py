"""Removing a member from a buyer organisation's team (issue 17, item 7): `users.removed_at`. A removed user can no
longer log in, their tokens and API keys are revoked, and the team no longer lists them; what they uploaded and
ordered stays with the organisation.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04

Additions only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("removed_at")
