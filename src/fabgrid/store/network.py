"""The network repository: processes, materials, machine models, sites and machines, the data sets the engines
are handed (costing rates, finishes, logistics), and the revision counter readers cache by.

The shipped YAML is seed data: `seed` loads it once into an empty database; afterwards the network is read from
here and changed here (`put_site`). Never commits. Depends on the ORM tables and the domain records only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fabgrid.domain.catalog import Catalog, Finish, MachineModel, Material, Network, Process, Site
from fabgrid.store.tables import (
    DatasetRow,
    MachineModelRow,
    MachineRow,
    MaterialRow,
    ProcessRow,
    RevisionRow,
    SiteRow,
    utcnow,
)

NETWORK = "network"


def _spec(record: Any) -> dict[str, Any]:
    spec: dict[str, Any] = record.model_dump(mode="json")
    return spec


class CatalogRepository:
    """The network in the store (the catalog it refers to, the sites and their machines)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ seeding

    def is_seeded(self) -> bool:
        """True once a network was loaded (there are sites)."""
        return bool(self.session.scalar(select(func.count()).select_from(SiteRow)))

    def sync(self, network: Network, datasets: dict[str, dict[str, Any]] | None = None) -> dict[str, int]:
        """Make the tables hold exactly `network` (insert, update; remove what is gone) and store `datasets`.

        Returns the number of rows per table after the sync. Idempotent; bumps the network revision.
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
            self._put_site(site)
        gone_sites = set(s.scalars(select(SiteRow.id))) - set(network.sites)
        for sid in gone_sites:
            s.delete(s.get_one(SiteRow, sid))
        s.flush()
        docs = dict(datasets or {})
        docs["finishes"] = {f.id: _spec(f) for f in cat.finishes.values()}
        for name, doc in docs.items():
            self.put_dataset(name, doc)
        self.bump()
        return self.counts()

    def _put_site(self, site: Site) -> None:
        s = self.session
        s.merge(SiteRow(id=site.id, name=site.name, city=site.city, province=site.province,
                        lat=site.lat, lon=site.lon, spec=_spec(site)))
        s.flush()
        existing = {r.machine_id: r for r in s.scalars(select(MachineRow).where(MachineRow.site_id == site.id))}
        wanted = {m.id: m.model for m in site.machines}
        for mid, row in existing.items():
            if mid not in wanted:
                s.delete(row)
            elif row.model_id != wanted[mid]:
                row.model_id = wanted[mid]
        for mid, model in wanted.items():
            if mid not in existing:
                s.add(MachineRow(site_id=site.id, machine_id=mid, model_id=model, status="idle"))
        s.flush()

    def put_site(self, site: Site) -> None:
        """Store a changed (or new) site with its machines; bumps the network revision."""
        self._put_site(site)
        self.bump()

    def put_machine_model(self, model: MachineModel) -> None:
        """Store a (factory-declared) machine model; bumps the network revision."""
        self.session.merge(MachineModelRow(id=model.id, vendor=model.vendor, model=model.model,
                                           process=model.process.value, spec=_spec(model)))
        self.session.flush()
        self.bump()

    def counts(self) -> dict[str, int]:
        """Rows per catalog table."""
        out: dict[str, int] = {}
        tables: tuple[tuple[str, type[Any]], ...] = (
            ("processes", ProcessRow), ("materials", MaterialRow), ("machine_models", MachineModelRow),
            ("sites", SiteRow), ("machines", MachineRow))
        for name, table in tables:
            out[name] = int(self.session.scalar(select(func.count()).select_from(table)) or 0)
        return out

    # ------------------------------------------------------------------ revision and data sets

    def revision(self) -> int:
        """The network's revision: changes with every change of the network or its data sets."""
        row = self.session.get(RevisionRow, NETWORK)
        return row.revision if row is not None else 0

    def bump(self) -> int:
        """Increment the network revision (in the caller's transaction)."""
        row = self.session.get(RevisionRow, NETWORK)
        if row is None:
            row = RevisionRow(name=NETWORK, revision=0)
            self.session.add(row)
        row.revision += 1
        row.updated_at = utcnow()
        self.session.flush()
        return row.revision

    def put_dataset(self, name: str, doc: dict[str, Any]) -> None:
        """Store a data set (replacing the one of that name)."""
        self.session.merge(DatasetRow(name=name, doc=doc, updated_at=utcnow()))
        self.session.flush()

    def dataset(self, name: str) -> dict[str, Any] | None:
        """A stored data set, or None."""
        row = self.session.get(DatasetRow, name)
        return row.doc if row is not None else None

    # ------------------------------------------------------------------ reads

    def network(self) -> Network:
        """The whole network with its catalog, as the engines take it."""
        finishes = self.dataset("finishes") or {}
        catalog = Catalog(processes={p.id: p for p in self.processes()},
                          materials={m.id: m for m in self.materials()},
                          finishes={k: Finish.model_validate(v) for k, v in finishes.items()},
                          machine_models={m.id: m for m in self.machine_models()})
        return Network(catalog=catalog, sites={s.id: s for s in self.sites()})

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
