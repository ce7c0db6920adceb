"""The order timeline in both languages (issue 17, item 9): `order_events.note_key` and `note_args`, the text's key in
services/timeline.yaml and its values, beside the English `note`, so that the pages show each event in the reader's
language. Events written before keep their English note.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04

Additions only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_events") as batch:
        batch.add_column(sa.Column("note_key", sa.String(40), nullable=True))
        batch.add_column(sa.Column("note_args", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_events") as batch:
        batch.drop_column("note_args")
        batch.drop_column("note_key")
