"""Work that no instant quote covers (issue 19): files attached to RFQs, messages and claims (encrypted at rest),
RFQs, their invitations with the NDA's acceptance, bids, contracts (versions and both acceptances), message
threads with read markers, claims on delivered lines, and the park's exhibitions with booths and meeting slots.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Only additions: nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _org() -> sa.ForeignKey:
    return sa.ForeignKey("organisations.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "rfq_files",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), _org(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(80), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_path", sa.String(500), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_rfq_files_organisation_id", "rfq_files", ["organisation_id"])
    op.create_table(
        "rfqs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), _org(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bid_deadline", TS, nullable=False),
        sa.Column("exhibition_id", sa.String(40), nullable=True),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_rfqs_organisation_id", "rfqs", ["organisation_id"])
    op.create_index("ix_rfqs_status", "rfqs", ["status"])
    op.create_index("ix_rfqs_exhibition_id", "rfqs", ["exhibition_id"])
    op.create_table(
        "rfq_invitations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rfq_id", sa.String(40), sa.ForeignKey("rfqs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("nda_sha256", sa.String(64), nullable=True),
        sa.Column("nda_user_id", sa.Integer(), nullable=True),
        sa.Column("nda_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("thread_id", sa.String(40), nullable=True),
        sa.UniqueConstraint("rfq_id", "site_id", name="uq_rfq_invitations_site"),
    )
    op.create_index("ix_rfq_invitations_rfq_id", "rfq_invitations", ["rfq_id"])
    op.create_index("ix_rfq_invitations_site_id", "rfq_invitations", ["site_id"])
    op.create_table(
        "rfq_bids",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("rfq_id", sa.String(40), sa.ForeignKey("rfqs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_rfq_bids_rfq_id", "rfq_bids", ["rfq_id"])
    op.create_index("ix_rfq_bids_site_id", "rfq_bids", ["site_id"])
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("rfq_id", sa.String(40), sa.ForeignKey("rfqs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_cny", sa.Float(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("buyer_user_id", sa.Integer(), nullable=True),
        sa.Column("buyer_at", TS, nullable=True),
        sa.Column("factory_user_id", sa.Integer(), nullable=True),
        sa.Column("factory_at", TS, nullable=True),
        sa.Column("signed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    for col in ("rfq_id", "order_id", "organisation_id", "site_id", "signed_at"):
        op.create_index(f"ix_contracts_{col}", "contracts", [col])
    op.create_table(
        "threads",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(120), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(40), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("site_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_threads_ref_id", "threads", ["ref_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("thread_id", sa.String(40), sa.ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("author_email", sa.String(254), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("body", sa.String(5000), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("file_id", sa.String(40), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_messages_thread_id", "messages", ["thread_id"])
    op.create_table(
        "thread_reads",
        sa.Column("thread_id", sa.String(40), sa.ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("last_message_id", sa.Integer(), nullable=False),
        sa.Column("read_at", TS, nullable=False),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line_id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
    )
    for col in ("order_id", "line_id", "site_id"):
        op.create_index(f"ix_claims_{col}", "claims", [col])
    op.create_table(
        "exhibitions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("theme", sa.String(500), nullable=False),
        sa.Column("starts_on", sa.String(10), nullable=False),
        sa.Column("ends_on", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "booths",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("exhibition_id", sa.String(40), sa.ForeignKey("exhibitions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("featured", sa.JSON(), nullable=False),
        sa.UniqueConstraint("exhibition_id", "site_id", name="uq_booths_site"),
    )
    op.create_index("ix_booths_exhibition_id", "booths", ["exhibition_id"])
    op.create_table(
        "meeting_slots",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("booth_id", sa.String(40), sa.ForeignKey("booths.id", ondelete="CASCADE"), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("booked_at", TS, nullable=True),
    )
    op.create_index("ix_meeting_slots_booth_id", "meeting_slots", ["booth_id"])


def downgrade() -> None:
    for table in ("meeting_slots", "booths", "exhibitions", "claims", "thread_reads", "messages", "threads",
                  "contracts", "rfq_bids", "rfq_invitations", "rfqs", "rfq_files"):
        op.drop_table(table)
