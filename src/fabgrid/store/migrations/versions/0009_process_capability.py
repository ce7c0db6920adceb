"""The capability record of each stored process (`spec.capability`: nesting, orientation, shared builds,
support model, unattended and round-the-clock running); see data/processes.yaml for what each field means.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

A database seeded before this revision holds process specs without the record; this revision adds the
values the platform used implicitly until then (they are copied here, as a migration is a snapshot, so a
later change of processes.yaml does not rewrite history). Processes that already carry one are kept.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_PLATE = {"nesting": "plate", "nest_spacing_mm": 5.0, "orientation": "least_support", "shared_builds": True,
          "supports": "none", "unattended": True, "round_the_clock": False}
_POWDER = {"nesting": "volume", "nest_spacing_mm": 3.0, "orientation": "least_height", "shared_builds": True,
           "supports": "powder", "unattended": True, "round_the_clock": True}
CAPABILITY: dict[str, dict[str, Any]] = {
    "fdm": _PLATE,
    "sla": _PLATE,
    "sls": _POWDER,
    "mjf": _POWDER,
    "metal_pbf": {**_PLATE, "supports": "columns", "support_lift_mm": 3.0, "round_the_clock": True},
    "cnc": {"nesting": "none", "orientation": "largest_base", "shared_builds": False, "supports": "none",
            "unattended": False, "round_the_clock": False},
}

_processes = sa.table("processes", sa.column("id", sa.String), sa.column("spec", sa.JSON))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    conn = op.get_bind()
    for pid, spec in conn.execute(sa.select(_processes.c.id, _processes.c.spec)).all():
        doc = dict(_json(spec) or {})
        if "capability" in doc or pid not in CAPABILITY:
            continue
        doc["capability"] = CAPABILITY[pid]
        conn.execute(_processes.update().where(_processes.c.id == pid).values(spec=doc))


def downgrade() -> None:
    conn = op.get_bind()
    for pid, spec in conn.execute(sa.select(_processes.c.id, _processes.c.spec)).all():
        doc = dict(_json(spec) or {})
        if doc.pop("capability", None) is not None:
            conn.execute(_processes.update().where(_processes.c.id == pid).values(spec=doc))
