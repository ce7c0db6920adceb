"""An order line's inspection plan (issue 20, item 4): `feature_plan`, the features the buyer requires measured on
the line's parts with their nominal and tolerance limits (JSON list of `domain.order.FeatureSpec`).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04

Additions only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("feature_plan", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("feature_plan")
