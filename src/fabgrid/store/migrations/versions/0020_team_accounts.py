"""Team accounts and certificates on order lines (issue 17, items 5 and 7): `team_invitations` (an organisation
admin's invitation by e-mail, the link's secret as its SHA-256), `users.team_role` (buyer | admin in a buyer
organisation; the first user of each buyer organisation, who made it, becomes its admin) and
`order_lines.certifications` (the certificates the making site must hold, from the quote's request).

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-03

Additions only; the backfill gives existing buyer organisations their first user as admin.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0016"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "team_invitations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("team_role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("invited_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("accepted_at", TS, nullable=True),
        sa.Column("accepted_user_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("team_role", sa.String(16), nullable=True))
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("certifications", sa.JSON(), nullable=True))
    op.execute("UPDATE users SET team_role = 'buyer' WHERE organisation_id IN "
               "(SELECT id FROM organisations WHERE kind = 'buyer')")
    op.execute("UPDATE users SET team_role = 'admin' WHERE id IN (SELECT MIN(u.id) FROM users u JOIN organisations o "
               "ON o.id = u.organisation_id WHERE o.kind = 'buyer' GROUP BY u.organisation_id)")


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("certifications")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("team_role")
    op.drop_table("team_invitations")
