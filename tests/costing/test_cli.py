"""CLI contract of `fabgrid quote` and `fabgrid estimate` on the shipped network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh
from typer.testing import CliRunner

from fabgrid.cli import app


@pytest.fixture(scope="module")
def part_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parts") / "bracket.stl"
    trimesh.creation.box((30.0, 20.0, 8.0)).export(path)
    return path


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_quote_json_contract(part_file: Path) -> None:
    code, out, _ = _run("quote", str(part_file), "--material", "fdm_pla", "--qty", "3", "--to", "Changsha",
                        "--no-dfm", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["offers"], doc
    for o in doc["offers"]:
        for key in ("site", "process", "machine", "material", "unit_price_cny", "total_price_cny",
                    "lead_time_days", "ship_date", "delivery_date", "energy_kwh", "co2_kg", "tiers", "breakdown"):
            assert key in o
        # express is offered only where it ships earlier than standard (issue 17), and then it costs more
        names = [t["tier"] for t in o["tiers"]]
        assert {"economy", "standard"} <= set(names) <= {"economy", "standard", "express"}
        by = {t["tier"]: t for t in o["tiers"]}
        if "express" in by:
            assert by["express"]["ship_date"] < by["standard"]["ship_date"]
            assert by["express"]["unit_price_cny"] > by["standard"]["unit_price_cny"]
        assert o["time_s"] == pytest.approx(o["setup_s"] + o["run_s"], abs=0.2)
        assert o["material"] == "fdm_pla" and o["process"] == "fdm"
        assert o["total_price_cny"] == pytest.approx(3 * o["unit_price_cny"], abs=0.05)
    for r in doc["rejected"]:
        assert set(r) >= {"site", "reason"}
    prices = [o["unit_price_cny"] for o in doc["offers"]]
    assert prices == sorted(prices)


def test_estimate_json_and_slicer_config(part_file: Path) -> None:
    code, out, _ = _run("estimate", str(part_file), "--machine", "prusa_mk4", "--material", "fdm_pla", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["time_s"] > 0 and doc["material_g"] > 0 and doc["energy_kwh"] > 0
    code, out, _ = _run("estimate", "--slicer-config", "prusa_mk4")
    assert code == 0
    assert "layer_height = 0.2" in out and "perimeters = " in out and "bed_shape = " in out


def test_bad_input_is_an_error_not_a_traceback(part_file: Path) -> None:
    from fabgrid.cli import main

    for argv in (["quote", str(part_file), "--material", "unobtainium", "--json"],
                 ["estimate", str(part_file), "--machine", "nope", "--json"],
                 ["quote", str(part_file), "--material", "fdm_pla", "--process", "sls", "--no-dfm"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2


def test_every_shipped_machine_model_can_be_estimated() -> None:
    """The params each process model needs are present for every machine model of the catalog."""
    from fabgrid.costing.base import estimate
    from fabgrid.costing.part import from_mesh
    from fabgrid.costing.rates import load_rates
    from fabgrid.data import load_catalog

    cat = load_catalog()
    part = from_mesh(trimesh.creation.box((20.0, 20.0, 10.0)))
    for model in cat.machine_models.values():
        for mat_id in model.materials:
            mat = cat.materials[mat_id]
            est = estimate(part, model, mat, 5, load_rates())
            solid_g = part.volume_mm3 * mat.density_g_cm3 / 1000
            # FDM prints sparse infill; every other process uses at least the part's own mass
            floor = 0.2 if model.process.value == "fdm" else 1.0
            assert est.time_s > 0 and est.energy_kwh > 0 and est.material_g >= floor * solid_g


def test_quote_process_imports_neither_trimesh_nor_the_store(part_file: Path) -> None:
    # issue 15: a quote from the shipped data reads an STL, slices and prices without trimesh (0.4 s to import)
    # or SQLAlchemy (0.4-0.6 s); both stay where they are used (other formats, a database)
    script = ("import sys\nfrom fabgrid.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
              "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'trimesh', 'sqlalchemy', 'alembic'})\n"
              "print('heavy:', heavy, file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", script, "quote", str(part_file), "--material", "fdm_pla", "--json"],
                       capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(r.stdout)["offers"]
    assert "heavy: []" in r.stderr, r.stderr
