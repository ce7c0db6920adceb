"""Repository of dispatch: machine connections (the sealed secret handed in and out as bytes) and builds with
their order lines. Returns domain records; the only SQL of dispatch. Depends on SQLAlchemy and the store tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from fabgrid.domain.dispatch import BuildPart, BuildStatus, ConnectionState, MachineConnection, PlannedBuild
from fabgrid.store.tables import BuildLineRow, BuildRow, MachineConnectionRow, utcnow


def _utc(dt: datetime | None) -> datetime | None:
    return None if dt is None else (dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def _conn(r: MachineConnectionRow, url: str) -> MachineConnection:
    u = urlsplit(url)
    return MachineConnection(machine_id=r.machine_id, site_id=r.site_id, kind=r.kind,
                             host=f"{u.scheme}://{u.hostname or ''}" + (f":{u.port}" if u.port else ""),
                             state=ConnectionState(r.state), message=r.message, checked_at=_utc(r.checked_at))


def _build(r: BuildRow) -> PlannedBuild:
    doc = r.doc or {}
    return PlannedBuild(id=r.id, site_id=r.site_id, machine_id=r.machine_id,
                        machine_model=str(doc.get("machine_model")), process=r.process, material=r.material,
                        status=BuildStatus(r.status),
                        estimated_time_s=r.estimated_time_s,
                        parts=tuple(BuildPart(**p) for p in doc.get("parts", [])), model_file=doc.get("model_file"),
                        host_job=r.host_job, message=r.message, locked=bool(doc.get("locked", False)),
                        picture=doc.get("picture"), operator=str(doc.get("operator") or ""),
                        created_at=_utc(r.created_at) or utcnow(),
                        updated_at=_utc(r.updated_at) or utcnow())


class DispatchRepository:
    """`uow.dispatch`: machine connections and builds."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- connections
    def save_connection(self, machine_id: str, site_id: str, kind: str, secret_enc: bytes, key_id: str) -> None:
        """Create or replace the connection of `machine_id` (state unchecked until `set_state`)."""
        row = self.session.get(MachineConnectionRow, machine_id)
        if row is None:
            row = MachineConnectionRow(machine_id=machine_id, created_at=utcnow())
            self.session.add(row)
        row.site_id, row.kind, row.secret_enc, row.key_id = site_id, kind, secret_enc, key_id
        row.state, row.message, row.checked_at = ConnectionState.ERROR.value, "not checked yet", None
        self.session.flush()

    def reseal(self, machine_id: str, secret_enc: bytes, key_id: str) -> bool:
        """Replace the sealed secret of a connection, keeping its state; False when the machine has none."""
        row = self.session.get(MachineConnectionRow, machine_id)
        if row is None:
            return False
        row.secret_enc, row.key_id = secret_enc, key_id
        return True

    def set_state(self, machine_id: str, state: ConnectionState, message: str) -> None:
        """Record the outcome of a check."""
        row = self.session.get(MachineConnectionRow, machine_id)
        if row is not None:
            row.state, row.message, row.checked_at = state.value, message[:500], utcnow()

    def secret(self, machine_id: str) -> tuple[str, bytes, str] | None:
        """(kind, sealed secret, key id) of a machine's connection, or None."""
        row = self.session.get(MachineConnectionRow, machine_id)
        return None if row is None else (row.kind, row.secret_enc, row.key_id)

    def connections(self, site_id: str | None, urls: dict[str, str]) -> list[MachineConnection]:
        """The connections (of `site_id`), with the unsealed `urls` per machine to show their host."""
        q = select(MachineConnectionRow).order_by(MachineConnectionRow.machine_id)
        if site_id is not None:
            q = q.where(MachineConnectionRow.site_id == site_id)
        return [_conn(r, urls.get(r.machine_id, "")) for r in self.session.scalars(q)]

    def sealed(self, site_id: str | None) -> list[tuple[str, bytes, str]]:
        """(machine id, sealed secret, key id) of every connection (of `site_id`)."""
        q = select(MachineConnectionRow.machine_id, MachineConnectionRow.secret_enc, MachineConnectionRow.key_id)
        if site_id is not None:
            q = q.where(MachineConnectionRow.site_id == site_id)
        return [(m, s, k) for m, s, k in self.session.execute(q)]

    # -- builds
    def add_build(self, build: PlannedBuild, doc: dict[str, Any]) -> None:
        """Store a planned build and its order lines."""
        self.session.add(BuildRow(id=build.id, site_id=build.site_id, machine_id=build.machine_id,
                                  process=build.process, material=build.material, status=build.status.value,
                                  estimated_time_s=build.estimated_time_s,
                                  doc={**doc, "machine_model": build.machine_model,
                                       "parts": [p.model_dump() for p in build.parts],
                                       "model_file": build.model_file, "picture": build.picture,
                                       "locked": build.locked},
                                  host_job=None, message=build.message, created_at=build.created_at,
                                  updated_at=build.updated_at))
        self.session.flush()  # the build row before its lines (no ORM relationship orders them)
        lines: dict[str, int] = {}
        for p in build.parts:
            if p.line_id:
                lines[p.line_id] = lines.get(p.line_id, 0) + p.copies
        self.session.add_all(BuildLineRow(build_id=build.id, line_id=k, quantity=v) for k, v in lines.items())
        self.session.flush()

    def build(self, build_id: str) -> PlannedBuild | None:
        """One build."""
        row = self.session.get(BuildRow, build_id)
        return None if row is None else _build(row)

    def builds(self, site_id: str | None = None, statuses: Iterable[BuildStatus] = ()) -> list[PlannedBuild]:
        """Builds (of a site, with one of `statuses`), oldest first."""
        q = select(BuildRow).order_by(BuildRow.created_at, BuildRow.id)
        if site_id is not None:
            q = q.where(BuildRow.site_id == site_id)
        if wanted := [s.value for s in statuses]:
            q = q.where(BuildRow.status.in_(wanted))
        return [_build(r) for r in self.session.scalars(q)]

    def update_build(self, build_id: str, *, status: BuildStatus | None = None, host_job: str | None = None,
                     message: str | None = None, machine_id: str | None = None,
                     estimated_time_s: float | None = None, operator: str | None = None) -> None:
        """Change a build's status, host job, message, machine, estimated print time or operator (who started it)."""
        row = self.session.get(BuildRow, build_id)
        if row is None:
            return
        if operator is not None:
            row.doc = {**(row.doc or {}), "operator": operator[:200]}
        if estimated_time_s is not None:
            row.estimated_time_s = estimated_time_s
        if status is not None:
            row.status = status.value
        if host_job is not None:
            row.host_job = host_job
        if message is not None:
            row.message = message[:500]
        if machine_id is not None:
            row.machine_id = machine_id
        row.updated_at = utcnow()

    def claim(self, build_id: str, expected: BuildStatus, new: BuildStatus, message: str) -> bool:
        """Move a build from `expected` to `new` in one statement (compare-and-set); False when another caller
        moved it first."""
        r = self.session.execute(update(BuildRow).where(BuildRow.id == build_id, BuildRow.status == expected.value)
                                 .values(status=new.value, message=message[:500], updated_at=utcnow()))
        return bool(getattr(r, "rowcount", 0) == 1)

    def planned_copies(self, line_ids: Iterable[str]) -> dict[str, int]:
        """Copies of each line held by active builds (planned, printing, done)."""
        ids = list(line_ids)
        if not ids:
            return {}
        active = [s.value for s in BuildStatus if s.active]
        q = (select(BuildLineRow.line_id, func.sum(BuildLineRow.quantity))
             .join(BuildRow, BuildRow.id == BuildLineRow.build_id)
             .where(BuildLineRow.line_id.in_(ids), BuildRow.status.in_(active)).group_by(BuildLineRow.line_id))
        return {str(k): int(v) for k, v in self.session.execute(q)}

    def set_locked(self, build_id: str, locked: bool) -> None:
        """Lock a build (re-planning keeps it) or unlock it."""
        row = self.session.get(BuildRow, build_id)
        if row is not None:
            row.doc = {**(row.doc or {}), "locked": locked}  # a new dict: the JSON column sees the change
            row.updated_at = utcnow()

    def delete_build(self, build_id: str) -> None:
        """Delete a build and its lines (a planned build that was split)."""
        self.session.execute(delete(BuildLineRow).where(BuildLineRow.build_id == build_id))
        self.session.execute(delete(BuildRow).where(BuildRow.id == build_id))

    def drop_planned(self, site_id: str) -> int:
        """Delete the site's builds that are still only planned and not locked (re-planning keeps started and
        locked ones)."""
        rows = self.session.execute(select(BuildRow.id, BuildRow.doc).where(
            BuildRow.site_id == site_id, BuildRow.status == BuildStatus.PLANNED.value))
        ids = [i for i, doc in rows if not (doc or {}).get("locked")]
        if ids:
            self.session.execute(delete(BuildLineRow).where(BuildLineRow.build_id.in_(ids)))
            self.session.execute(delete(BuildRow).where(BuildRow.id.in_(ids)))
        return len(ids)
