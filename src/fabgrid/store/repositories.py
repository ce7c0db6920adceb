"""Repositories: the store's interface in domain terms (catalog, network, organisations, users).

Each repository works on a session handed in by the unit of work and never commits.
Depends on the ORM tables and the domain records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fabgrid.domain.catalog import MachineModel, Material, Network, Process, Site
from fabgrid.store.tables import (
    AccessTokenRow,
    MachineModelRow,
    MachineRow,
    MaterialRow,
    OrganisationRow,
    ProcessRow,
    SiteRow,
    UserRow,
)


def _spec(record: Any) -> dict[str, Any]:
    spec: dict[str, Any] = record.model_dump(mode="json")
    return spec


class CatalogRepository:
    """Processes, materials, machine models, sites and machines of the network."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def sync(self, network: Network) -> dict[str, int]:
        """Make the tables hold exactly `network` (insert, update; remove what is gone).

        Returns the number of rows per table after the sync. Idempotent.
        """
        s = self.session
        cat = network.catalog
        for p in cat.processes.values():
            s.merge(ProcessRow(id=p.id.value, name=p.name, spec=_spec(p)))
        s.flush()
        for m in cat.materials.values():
            s.merge(MaterialRow(id=m.id, name=m.name, process=m.process.value,
                                price_cny_per_kg=m.price_cny_per_kg, spec=_spec(m)))
        for mm in cat.machine_models.values():
            s.merge(MachineModelRow(id=mm.id, vendor=mm.vendor, model=mm.model,
                                    process=mm.process.value, spec=_spec(mm)))
        s.flush()
        for site in network.sites.values():
            s.merge(SiteRow(id=site.id, name=site.name, city=site.city, province=site.province,
                            lat=site.lat, lon=site.lon, spec=_spec(site)))
        s.flush()
        existing = {(r.site_id, r.machine_id): r for r in s.scalars(select(MachineRow))}
        wanted = {(site.id, m.id): m.model for site in network.sites.values() for m in site.machines}
        for key, row in existing.items():
            if key not in wanted:
                s.delete(row)
            elif row.model_id != wanted[key]:
                row.model_id = wanted[key]
        for key, model in wanted.items():
            if key not in existing:
                s.add(MachineRow(site_id=key[0], machine_id=key[1], model_id=model, status="idle"))
        s.flush()
        gone_sites = set(s.scalars(select(SiteRow.id))) - set(network.sites)
        for sid in gone_sites:
            s.delete(s.get_one(SiteRow, sid))
        s.flush()
        return self.counts()

    def counts(self) -> dict[str, int]:
        """Rows per catalog table."""
        from sqlalchemy import func

        out: dict[str, int] = {}
        tables: tuple[tuple[str, type[Any]], ...] = (
            ("processes", ProcessRow), ("materials", MaterialRow), ("machine_models", MachineModelRow),
            ("sites", SiteRow), ("machines", MachineRow))
        for name, table in tables:
            out[name] = int(self.session.scalar(select(func.count()).select_from(table)) or 0)
        return out

    def sites(self, province: str | None = None) -> list[Site]:
        """Sites, optionally of one province, ordered by id."""
        q = select(SiteRow).order_by(SiteRow.id)
        if province:
            q = q.where(SiteRow.province == province)
        return [Site.model_validate(r.spec) for r in self.session.scalars(q)]

    def site(self, site_id: str) -> Site | None:
        """One site, or None."""
        row = self.session.get(SiteRow, site_id)
        return Site.model_validate(row.spec) if row else None

    def processes(self) -> list[Process]:
        """All processes."""
        rows = self.session.scalars(select(ProcessRow).order_by(ProcessRow.id))
        return [Process.model_validate(r.spec) for r in rows]

    def materials(self, process: str | None = None) -> list[Material]:
        """Materials, optionally of one process."""
        q = select(MaterialRow).order_by(MaterialRow.id)
        if process:
            q = q.where(MaterialRow.process == process)
        return [Material.model_validate(r.spec) for r in self.session.scalars(q)]

    def machine_models(self, process: str | None = None) -> list[MachineModel]:
        """Machine models, optionally of one process."""
        q = select(MachineModelRow).order_by(MachineModelRow.id)
        if process:
            q = q.where(MachineModelRow.process == process)
        return [MachineModel.model_validate(r.spec) for r in self.session.scalars(q)]


class OrganisationRepository:
    """Organisations (buyers, factories, the park operator)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, name: str, kind: str, site_id: str | None = None) -> OrganisationRow:
        """Create an organisation."""
        row = OrganisationRow(name=name, kind=kind, site_id=site_id)
        self.session.add(row)
        self.session.flush()
        return row

    def by_name(self, name: str) -> OrganisationRow | None:
        """The organisation called `name`, or None."""
        return self.session.scalar(select(OrganisationRow).where(OrganisationRow.name == name))

    def get(self, org_id: int) -> OrganisationRow | None:
        """The organisation with id `org_id`, or None."""
        return self.session.get(OrganisationRow, org_id)


class UserRepository:
    """Users and their password hashes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, organisation_id: int, email: str, name: str, password_hash: str, role: str) -> UserRow:
        """Create a user."""
        row = UserRow(organisation_id=organisation_id, email=email.lower(), name=name,
                      password_hash=password_hash, role=role)
        self.session.add(row)
        self.session.flush()
        return row

    def by_email(self, email: str) -> UserRow | None:
        """The user with `email` (case-insensitive), or None."""
        return self.session.scalar(select(UserRow).where(UserRow.email == email.lower()))

    def get(self, user_id: int) -> UserRow | None:
        """The user with id `user_id`, or None."""
        return self.session.get(UserRow, user_id)


class TokenRepository:
    """Access tokens (sessions and API keys), looked up by the SHA-256 of the secret."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user_id: int, kind: str, token_sha256: str, prefix: str, name: str,
            expires_at: datetime | None) -> AccessTokenRow:
        """Store a new token."""
        row = AccessTokenRow(user_id=user_id, kind=kind, token_sha256=token_sha256, prefix=prefix,
                             name=name, expires_at=expires_at)
        self.session.add(row)
        self.session.flush()
        return row

    def by_hash(self, token_sha256: str) -> AccessTokenRow | None:
        """The token with that hash, or None."""
        return self.session.scalar(select(AccessTokenRow).where(AccessTokenRow.token_sha256 == token_sha256))

    def for_user(self, user_id: int, kind: str) -> list[AccessTokenRow]:
        """A user's tokens of one kind, newest first."""
        q = (select(AccessTokenRow).where(AccessTokenRow.user_id == user_id, AccessTokenRow.kind == kind)
             .order_by(AccessTokenRow.id.desc()))
        return list(self.session.scalars(q))
