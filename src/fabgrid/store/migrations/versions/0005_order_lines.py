"""Orders with lines, and the network as the store's own data: `order_lines` (one per ordered quote, unique),
`orders` reduced to the header, `order_events.line_id`, `datasets` (costing rates, finishes, logistics seeded
from fabgrid.data) and `revisions` (a counter per changing data set).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Each existing order becomes an order with one line (same prices, site, status and inspection). The tables are
rebuilt by copy, children first, so that SQLite's cascading deletes never fire on the old rows.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _machine_h(quote_doc: Any, site: str | None) -> float:
    offers = (_json(quote_doc) or {}).get("offers", [])
    offer = next((o for o in offers if o.get("site") == site), None)
    return float(((offer or {}).get("estimate") or {}).get("job_time_s", 0.0)) / 3600.0


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "orders_new",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("destination", sa.String(80), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consent_design_sharing", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    lines = op.create_table(
        "order_lines",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders_new.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.String(40), sa.ForeignKey("quotes.id"), nullable=False),
        sa.Column("part_id", sa.String(40), sa.ForeignKey("parts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=True),
        sa.Column("offer_site_id", sa.String(64), nullable=False),
        sa.Column("process", sa.String(32), nullable=False),
        sa.Column("material", sa.String(64), nullable=False),
        sa.Column("finish", sa.String(64), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("unit_price_cny", sa.Float(), nullable=False),
        sa.Column("total_price_cny", sa.Float(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("delivery_date", sa.String(10), nullable=False),
        sa.Column("machine_h", sa.Float(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("inspection", sa.JSON(), nullable=True),
        sa.UniqueConstraint("quote_id", name="uq_order_lines_quote"),
    )
    op.create_table(
        "order_events_new",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders_new.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("at", TS, nullable=False),
    )
    bind.execute(sa.text(
        "INSERT INTO orders_new (id, organisation_id, user_id, destination, status, consent_design_sharing, "
        "created_at) SELECT id, organisation_id, user_id, destination, status, consent_design_sharing, created_at "
        "FROM orders"))
    rows = bind.execute(sa.text(
        "SELECT o.id, o.quote_id, o.part_id, o.site_id, o.offer_site_id, o.process, o.material, o.quantity, o.tier, "
        "o.unit_price_cny, o.total_price_cny, o.lead_time_days, o.delivery_date, o.status, o.inspection, q.quote, "
        "q.request FROM orders o LEFT JOIN quotes q ON q.id = o.quote_id")).mappings().all()
    copied = [{
        "id": "oln_" + str(r["id"]).split("_", 1)[-1], "order_id": r["id"], "position": 1, "quote_id": r["quote_id"],
        "part_id": r["part_id"], "site_id": r["site_id"], "offer_site_id": r["offer_site_id"],
        "process": r["process"], "material": r["material"], "finish": (_json(r["request"]) or {}).get("finish"),
        "quantity": r["quantity"], "tier": r["tier"], "unit_price_cny": r["unit_price_cny"],
        "total_price_cny": r["total_price_cny"], "lead_time_days": r["lead_time_days"],
        "delivery_date": r["delivery_date"], "machine_h": _machine_h(r["quote"], r["offer_site_id"]),
        "status": r["status"], "inspection": _json(r["inspection"]),
    } for r in rows]
    if copied:
        op.bulk_insert(lines, copied)
    bind.execute(sa.text(
        "INSERT INTO order_events_new (id, order_id, line_id, status, site_id, note, actor_user_id, at) "
        "SELECT id, order_id, 'oln_' || SUBSTR(order_id, 5), status, site_id, note, actor_user_id, at "
        "FROM order_events"))
    op.drop_index("ix_order_events_order_id", table_name="order_events")
    op.drop_table("order_events")
    for col in ("organisation_id", "quote_id", "part_id", "site_id", "status"):
        op.drop_index(f"ix_orders_{col}", table_name="orders")
    op.drop_table("orders")
    op.rename_table("orders_new", "orders")
    op.rename_table("order_events_new", "order_events")
    if bind.dialect.name == "postgresql":
        # keep the serial's sequence in step with the copied ids
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('order_events', 'id'), "
                             "COALESCE((SELECT MAX(id) FROM order_events), 0) + 1, false)"))
    op.create_index("ix_orders_organisation_id", "orders", ["organisation_id"])
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"])
    op.create_index("ix_order_lines_part_id", "order_lines", ["part_id"])
    op.create_index("ix_order_lines_site_id", "order_lines", ["site_id"])
    op.create_index("ix_order_lines_status", "order_lines", ["status"])
    op.create_index("ix_order_events_order_id", "order_events", ["order_id"])
    op.create_table(
        "datasets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "revisions",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("0005 (order lines) is not reversible: orders with several lines have no old form")
