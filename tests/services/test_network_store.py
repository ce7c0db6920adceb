"""The network lives in the store: seeded once from the shipped data, read from the database afterwards.

The proof that nothing reads the YAML after seeding: a copy of the package whose data files are deleted after
seeding still uploads, analyses, quotes and orders a part."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fabgrid.errors import InputError
from fabgrid.services import network
from fabgrid.services.platform import seed_database
from fabgrid.store.uow import UnitOfWork

SRC = Path(__file__).resolve().parents[2] / "src"


def test_seed_once_then_read_from_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    first = seed_database(url)
    again = seed_database(url)
    assert first.seeded and not again.seeded and first.counts == again.counts and first.counts["sites"] == 79
    with UnitOfWork(url) as uow:
        data = network.current(uow)
        assert network.current(uow) is data  # cached while the revision stands
        site = network.site(uow, "cs-jingkai-01")
        network.set_machine_rate(uow, site.id, site.machines[0].model, 123.0)
        uow.commit()
    with UnitOfWork(url) as uow:
        changed = network.current(uow)
        assert changed.revision == data.revision + 1
        assert changed.network.sites["cs-jingkai-01"].machine_rates_cny_per_h == {site.machines[0].model: 123.0}
    assert not seed_database(url).seeded  # a restart keeps the factory's change
    with UnitOfWork(url) as uow:
        assert network.current(uow).network.sites["cs-jingkai-01"].machine_rates_cny_per_h
    replaced = seed_database(url, replace=True)
    assert replaced.seeded
    with UnitOfWork(url) as uow:
        assert network.current(uow).network.sites["cs-jingkai-01"].machine_rates_cny_per_h == {}


def test_bad_site_changes_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    seed_database(url)
    with UnitOfWork(url) as uow:
        site = network.site(uow, "cs-jingkai-01")
        model = site.machines[0].model
        for rate in (-1.0, 0.0, 1e9):
            with pytest.raises(InputError) as err:
                network.set_machine_rate(uow, site.id, model, rate)
            assert err.value.status == 422 and err.value.code == "site.rate"
        with pytest.raises(InputError) as err:
            network.set_machine_rate(uow, site.id, "no_such_model", 50.0)
        assert err.value.code == "site.machine_model"
        with pytest.raises(InputError) as err:
            network.put_site(uow, site.model_copy(update={"materials": (*site.materials, "metal_ti64")}))
        assert err.value.code == "site.material"
        with pytest.raises(InputError) as err:
            network.site(uow, "nowhere-01")
        assert err.value.status == 404
        rev = uow.catalog.revision()
    with UnitOfWork(url) as uow:
        assert uow.catalog.revision() == rev and network.site(uow, "cs-jingkai-01") == site  # nothing changed


def test_an_unseeded_database_says_what_to_do(tmp_path: Path) -> None:
    from fabgrid.services.platform import migrate_database

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    migrate_database(url)
    with UnitOfWork(url) as uow, pytest.raises(InputError) as err:
        network.current(uow)
    assert err.value.code == "network.not_seeded" and "fabgrid db seed" in (err.value.hint or "")


_JOURNEY = textwrap.dedent("""
    import fabgrid, trimesh
    from fabgrid.config import load_settings
    from fabgrid.services import accounts, orders, parts, quotes_store
    from fabgrid.domain.quote import QuoteRequest
    assert fabgrid.__file__.startswith({root!r}), fabgrid.__file__
    settings = load_settings()
    who = accounts.authenticate(settings.database_url, accounts.login(settings.database_url, "b@x.example.com",
                                                                      "correct horse battery").token)
    data = trimesh.creation.box((20.0, 30.0, 10.0)).export(file_type="stl")
    part, _ = parts.upload_bytes(settings, who, "box.stl", data)
    assert part.status == "ready", part
    q, _ = quotes_store.create_quote(settings, who, QuoteRequest(part_id=part.id, material="fdm_pla", quantity=3,
                                                                destination="Changsha"))
    assert q.offers, q
    o = orders.place_order(settings, who, [orders.LineRequest(q.id)])
    print("ok", len(q.offers), o.lines[0].site_id)
""")


@pytest.mark.slow
def test_the_yaml_is_not_read_after_seeding(tmp_path: Path) -> None:
    root = tmp_path / "src"
    shutil.copytree(SRC / "fabgrid", root / "fabgrid", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {**os.environ, "PYTHONPATH": str(root), "FABGRID_DATA_DIR": str(tmp_path / "data"),
           "FABGRID_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'fabgrid.db'}"}
    seed = ("from fabgrid.config import load_settings\nfrom fabgrid.services import accounts, platform\n"
            "s = load_settings()\nplatform.prepare_database(s.database_url)\n"
            "accounts.signup(s.database_url, email='b@x.example.com', password='correct horse battery', name='B', "
            "organisation='B Org')\n")
    subprocess.run([sys.executable, "-c", seed], env=env, check=True, timeout=300)
    removed = [p for p in (root / "fabgrid" / "data").rglob("*") if p.is_file() and p.suffix != ".py"]
    assert len(removed) > 10
    for p in removed:
        p.unlink()
    run = subprocess.run([sys.executable, "-c", _JOURNEY.format(root=str(root))], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok ")


def test_db_seed_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fabgrid.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    first = runner.invoke(app, ["db", "seed", "--database-url", url])
    assert first.exit_code == 0 and "loaded the shipped network" in first.output
    again = runner.invoke(app, ["db", "seed", "--database-url", url])
    assert again.exit_code == 0 and "holds a network already (79 sites); nothing changed" in again.output
