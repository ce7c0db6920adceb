"""The catalog's names in Chinese: every process, material and finish has its `name_zh`, machine vendors written
in Latin letters with a Chinese name have it, the halves of the shipped bilingual site and park names are found,
and a database seeded before revision 0026 gets the names by migration."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from fabgrid.data import load_catalog, load_network
from fabgrid.domain.catalog import bilingual, local_name

_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_catalog_name_has_its_chinese_name() -> None:
    cat = load_catalog()
    for group in (cat.processes, cat.materials, cat.finishes):
        for rec in group.values():
            # a material called by its international code alone (PLA, PETG, ...) is the same in both languages
            assert rec.name_zh or re.fullmatch(r"[A-Z0-9-]+", rec.name), rec.id
            assert local_name(rec, "zh") == (rec.name_zh or rec.name)
            assert local_name(rec, "en") == rec.name
    for m in cat.machine_models.values():
        if _CJK.search(m.vendor) or m.vendor.startswith("Generic"):  # the vendor has a Chinese name, or is a class
            assert m.vendor_zh and local_name(m, "zh").startswith(m.vendor_zh), m.id


def test_the_shipped_sites_and_parks_are_halved() -> None:
    for s in load_network().sites.values():
        for text in (s.name, s.park or ""):
            if not text:
                continue
            zh, en = bilingual(text, "zh-CN"), bilingual(text, "en")
            assert _CJK.search(zh) and not re.search(r"[A-Za-z]{3,}", zh), text
            assert en and not _CJK.search(en), text
    assert bilingual("Acme Precision", "zh") == "Acme Precision"  # a name in one language stays whole
    assert bilingual("长沙精密", "en") == "长沙精密"


def test_a_database_seeded_before_the_names_gets_them(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from fabgrid.services.platform import migrate_database
    from fabgrid.store.uow import UnitOfWork

    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert migrate_database(url, "0025") == "0025"
    cat = load_catalog()
    names = {"name_zh", "vendor_zh", "model_zh"}
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the catalog as a seed before revision 0026 wrote it
        t = sa.table("processes", sa.column("id"), sa.column("name"), sa.column("spec", sa.JSON))
        for p in cat.processes.values():
            conn.execute(t.insert().values(id=p.id.value, name=p.name, spec=p.model_dump(mode="json", exclude=names)))
        t = sa.table("materials", sa.column("id"), sa.column("name"), sa.column("process"),
                     sa.column("price_cny_per_kg"), sa.column("spec", sa.JSON))
        for m in cat.materials.values():
            conn.execute(t.insert().values(id=m.id, name=m.name, process=m.process.value,
                                           price_cny_per_kg=m.price_cny_per_kg,
                                           spec=m.model_dump(mode="json", exclude=names)))
        t = sa.table("machine_models", sa.column("id"), sa.column("vendor"), sa.column("model"),
                     sa.column("process"), sa.column("spec", sa.JSON))
        for mm in cat.machine_models.values():
            conn.execute(t.insert().values(id=mm.id, vendor=mm.vendor, model=mm.model, process=mm.process.value,
                                           spec=mm.model_dump(mode="json", exclude=names)))
        t = sa.table("datasets", sa.column("name"), sa.column("doc", sa.JSON),
                     sa.column("updated_at", sa.DateTime(timezone=True)))
        conn.execute(t.insert().values(name="finishes", updated_at=datetime.now(UTC),
                                       doc={f.id: f.model_dump(mode="json", exclude=names)
                                            for f in cat.finishes.values()}))
    engine.dispose()
    assert migrate_database(url) not in (None, "0025")  # the migration alone, no seeding
    with UnitOfWork(url) as uow:
        assert {p.id: p.name_zh for p in uow.catalog.processes()} == {k: p.name_zh for k, p in cat.processes.items()}
        assert {m.id: m.name_zh for m in uow.catalog.materials()} == {k: m.name_zh for k, m in cat.materials.items()}
        assert {m.id: (m.vendor_zh, m.model_zh) for m in uow.catalog.machine_models()} == \
            {k: (m.vendor_zh, m.model_zh) for k, m in cat.machine_models.items()}
        stored = uow.session.execute(sa.text("SELECT doc FROM datasets WHERE name = 'finishes'")).scalar_one()
    import json

    doc = json.loads(stored) if isinstance(stored, str) else stored
    assert {k: f.get("name_zh", "") for k, f in doc.items()} == {k: f.name_zh for k, f in cat.finishes.items()}
