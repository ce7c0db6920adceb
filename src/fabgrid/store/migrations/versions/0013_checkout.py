"""Checkout (issue 17, item 7): `order_checkout`, what the buyer gave for an order at checkout (shipping address
and contact, purchase-order number, the company's tax details for the fapiao) and when the design-sharing
consent was given (at checkout or later from the order page).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Only additions: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "order_checkout",
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("shipping", sa.JSON(), nullable=False),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.Column("po_number", sa.String(60), nullable=False),
        sa.Column("tax", sa.JSON(), nullable=True),
        sa.Column("consent_at", TS, nullable=True),
        sa.Column("consent_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("order_checkout")
