"""Factories join the network: `factory_applications` (a company's application with its unified social credit
code, place, contact and certificates; the operator's decision and reason), `storefronts` (what an approved
factory declares beyond its site record, its standing and change versions), `factory_documents` (an application's
documents, encrypted on disk like designs) and `factory_events` (the audit log of applications, decisions and
storefront changes).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Only additions: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "factory_applications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("legal_name", sa.String(200), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("city", sa.String(80), nullable=False),
        sa.Column("province", sa.String(80), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.Column("certificates", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_factory_applications_organisation_id", "factory_applications", ["organisation_id"])
    op.create_index("ix_factory_applications_credit_code", "factory_applications", ["credit_code"])
    op.create_index("ix_factory_applications_status", "factory_applications", ["status"])
    op.create_table(
        "storefronts",
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rate_version", sa.Integer(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "factory_documents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("application_id", sa.String(40), sa.ForeignKey("factory_applications.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_path", sa.String(255), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_factory_documents_application_id", "factory_documents", ["application_id"])
    op.create_table(
        "factory_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("application_id", sa.String(40), nullable=True),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=True),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_factory_events_application_id", "factory_events", ["application_id"])
    op.create_index("ix_factory_events_site_id", "factory_events", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_factory_events_site_id", table_name="factory_events")
    op.drop_index("ix_factory_events_application_id", table_name="factory_events")
    op.drop_table("factory_events")
    op.drop_table("storefronts")
    op.drop_index("ix_factory_documents_application_id", table_name="factory_documents")
    op.drop_table("factory_documents")
    op.drop_index("ix_factory_applications_status", table_name="factory_applications")
    op.drop_index("ix_factory_applications_credit_code", table_name="factory_applications")
    op.drop_index("ix_factory_applications_organisation_id", table_name="factory_applications")
    op.drop_table("factory_applications")
