"""One capability record per process: nesting, orientation, supports, costing and the simulator read the
same answer (processes.yaml's `capability`), and a database seeded before the record gets it by migration."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import trimesh
from pydantic import ValidationError

from fabgrid.costing import base
from fabgrid.data import load_catalog, load_network
from fabgrid.domain.catalog import NestingMethod, OrientationRule, ProcessCapability, ProcessFamily, SupportModel
from fabgrid.errors import InputError
from fabgrid.geometry import orient
from fabgrid.nesting import nest
from fabgrid.nesting.parts import part_from_mesh
from fabgrid.nesting.supports import rules_for
from fabgrid.sim.library import _model_facts


def test_every_process_has_one_record_and_every_rule_a_reader() -> None:
    procs = load_catalog().processes
    assert set(procs) == set(ProcessFamily)
    for fam, p in procs.items():
        cap = p.capability
        assert cap.orientation in orient.CHOOSERS, fam
        assert (cap.nesting is NestingMethod.NONE) == (not fam.is_additive), fam
        assert (rules_for(p) is not None) == (cap.supports is SupportModel.COLUMNS), fam
        assert base.model_for(fam).families, fam  # a costing model is discovered for each process
    metal = procs[ProcessFamily.METAL_PBF].capability
    # the disagreement this record ends: metal PBF sits on a plate, on anchored supports, round the clock
    assert (metal.nesting, metal.supports, metal.round_the_clock) == (NestingMethod.PLATE, SupportModel.COLUMNS, True)
    assert metal.support_lift_mm > 0
    assert procs[ProcessFamily.CNC].capability.orientation is OrientationRule.LARGEST_BASE


def test_inconsistent_records_are_refused() -> None:
    with pytest.raises(ValidationError, match="cannot share builds"):
        ProcessCapability(nesting=NestingMethod.NONE, orientation=OrientationRule.LARGEST_BASE, shared_builds=True,
                          supports=SupportModel.NONE, unattended=False, round_the_clock=False)
    with pytest.raises(ValidationError, match="only for supports: columns"):
        ProcessCapability(nesting=NestingMethod.PLATE, orientation=OrientationRule.LEAST_SUPPORT, shared_builds=True,
                          supports=SupportModel.NONE, support_lift_mm=2.0, unattended=True, round_the_clock=False)
    sls = load_catalog().processes[ProcessFamily.SLS]
    with pytest.raises(ValidationError, match="needs overhang_angle_deg"):
        sls.model_validate({**sls.model_dump(), "capability": {**sls.capability.model_dump(), "supports": "columns",
                                                                "support_lift_mm": 3.0}})


def test_nesting_follows_the_record_not_the_process_name() -> None:
    cat = load_catalog()
    machines = {m.process: m for m in sorted(cat.machine_models.values(), key=lambda m: m.id)}
    cube = part_from_mesh(trimesh.creation.box((20, 20, 20)), "cube", copies=2)
    for fam in (ProcessFamily.SLS, ProcessFamily.METAL_PBF, ProcessFamily.FDM):
        proc = cat.processes[fam]
        b = nest([cube], machines[fam], proc, time_limit_s=0.3)[0]
        assert b.spacing_mm == proc.capability.nest_spacing_mm
        assert b.support_lift_mm == proc.capability.support_lift_mm
    # the same FDM machine nested as if its process packed in a volume: the record decides
    fdm = cat.processes[ProcessFamily.FDM]
    as_volume = fdm.model_copy(update={"capability": fdm.capability.model_copy(
        update={"nesting": NestingMethod.VOLUME, "nest_spacing_mm": 2.0})})
    b = nest([cube], machines[ProcessFamily.FDM], as_volume, time_limit_s=0.3)[0]
    assert b.spacing_mm == 2.0 and b.density < 1  # a 3D packing: density over the volume
    with pytest.raises(InputError) as exc:
        nest([cube], machines[ProcessFamily.FDM], cat.processes[ProcessFamily.SLS])
    assert exc.value.code == "nest.process"


def test_the_simulator_sizes_builds_by_the_record() -> None:
    from fabgrid.costing.part import from_mesh
    from fabgrid.costing.rates import load_rates

    net = load_network()
    part = from_mesh(trimesh.creation.box((30, 30, 30)))
    metal = next(m for m in sorted(net.catalog.machine_models.values(), key=lambda m: m.id)
                 if m.process is ProcessFamily.METAL_PBF)
    mat = next(iter(metal.materials))
    facts = _model_facts(part, metal, net, mat, load_rates(), 10, 0.1, 0.5)
    bx, by, _ = metal.build_volume_mm
    # metal PBF is nested on the plate, so its share of a build is its footprint over the plate
    assert facts.fraction == pytest.approx(min(30 * 30 / (0.5 * bx * by), 1.0), rel=1e-6)


def test_a_database_seeded_before_the_record_gets_it(tmp_path: Path) -> None:
    from fabgrid.services.platform import migrate_database
    from fabgrid.store.uow import UnitOfWork

    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert migrate_database(url, "0008") == "0008"
    engine = sa.create_engine(url)
    procs = sa.table("processes", sa.column("id", sa.String), sa.column("name", sa.String),
                     sa.column("spec", sa.JSON))
    with engine.begin() as conn:  # the process rows as a seed before revision 0009 wrote them
        for p in load_catalog().processes.values():
            spec = p.model_dump(mode="json", exclude={"capability"})
            conn.execute(procs.insert().values(id=p.id.value, name=p.name, spec=spec))
    engine.dispose()
    assert migrate_database(url) not in (None, "0008")  # the migration alone, no seeding
    with UnitOfWork(url) as uow:
        stored = {p.id: p.capability for p in uow.catalog.processes()}
    assert stored == {fam: p.capability for fam, p in load_catalog().processes.items()}
