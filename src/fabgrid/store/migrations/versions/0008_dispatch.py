"""Dispatch to printers (issue 20): `machine_connections` (a machine's print host: kind and the URL and keys
sealed under the master key), `builds` (a planned machine run with its parts and status) and `build_lines`
(which order lines, how many copies, a build holds).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Only additions: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "machine_connections",
        sa.Column("machine_id", sa.String(64), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("checked_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_machine_connections_site_id", "machine_connections", ["site_id"])
    op.create_table(
        "builds",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("machine_id", sa.String(64), nullable=True),
        sa.Column("process", sa.String(32), nullable=False),
        sa.Column("material", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("estimated_time_s", sa.Float(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("host_job", sa.String(200), nullable=True),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_builds_site_id", "builds", ["site_id"])
    op.create_index("ix_builds_status", "builds", ["status"])
    op.create_table(
        "build_lines",
        sa.Column("build_id", sa.String(40), sa.ForeignKey("builds.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("line_id", sa.String(40), sa.ForeignKey("order_lines.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
    )
    op.create_index("ix_build_lines_line_id", "build_lines", ["line_id"])


def downgrade() -> None:
    op.drop_index("ix_build_lines_line_id", table_name="build_lines")
    op.drop_table("build_lines")
    op.drop_index("ix_builds_status", table_name="builds")
    op.drop_index("ix_builds_site_id", table_name="builds")
    op.drop_table("builds")
    op.drop_index("ix_machine_connections_site_id", table_name="machine_connections")
    op.drop_table("machine_connections")
