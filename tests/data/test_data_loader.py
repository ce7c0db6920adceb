"""Loader validation: broken copies of the shipped YAML give InputErrors naming file, key and problem."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from fabgrid.data import (
    load_catalog,
    load_catalog_from,
    load_network,
    load_network_from,
    load_provinces,
    load_station_kinds,
)
from fabgrid.errors import InputError

FILES = ("processes.yaml", "finishes.yaml", "materials.yaml", "machine_models.yaml", "provinces.yaml",
         "sites.yaml")


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the packaged data files."""
    src = resources.files("fabgrid.data")
    for name in FILES:
        (tmp_path / name).write_text((src / name).read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)


def _edit(root: Path, file: str, change: Callable[[dict[str, Any]], None]) -> None:
    doc = _load(root / file)
    change(doc)
    text = yaml.dump(doc, Dumper=DUMPER, allow_unicode=True, sort_keys=False)
    (root / file).write_text(text, encoding="utf-8")


def _error(root: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_network_from(root)
    assert info.value.code == "data.invalid"
    return info.value


def test_copy_loads_like_the_package(data_copy: Path) -> None:
    net = load_network_from(data_copy)
    assert net == load_network()
    assert load_catalog_from(data_copy) == load_catalog()


def test_cached_and_shared() -> None:
    assert load_network() is load_network()
    assert load_network().catalog is load_catalog()


def test_unknown_machine_model_names_file_and_key(data_copy: Path) -> None:
    doc = _load(data_copy / "sites.yaml")
    i = next(k for k, s in enumerate(doc["sites"]) if len(s["machines"]) >= 4)

    def change(d: dict[str, Any]) -> None:
        d["sites"][i]["machines"][3] = {"id": "x-m99", "model": "no_such_printer"}

    _edit(data_copy, "sites.yaml", change)
    err = _error(data_copy)
    assert str(err).startswith(f"sites.yaml: sites[{i}].machines[3].model:")
    assert "no_such_printer" in str(err)


def test_pydantic_error_becomes_input_error(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["materials"][2]["density_g_cm3"] = -1

    _edit(data_copy, "materials.yaml", change)
    err = _error(data_copy)
    assert "materials.yaml: materials[2].density_g_cm3:" in str(err)
    assert "greater than 0" in str(err)
    assert err.hint


def test_missing_field_and_unknown_key(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        del d["machine_models"][1]["power"]["idle_w"]
        d["machine_models"][1]["colour"] = "red"

    _edit(data_copy, "machine_models.yaml", change)
    msg = str(_error(data_copy))
    assert "machine_models.yaml: machine_models[1].power.idle_w: Field required" in msg
    assert "machine_models[1].colour: Extra inputs are not permitted" in msg


def test_duplicate_site_id(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["sites"][5]["id"] = d["sites"][0]["id"]

    _edit(data_copy, "sites.yaml", change)
    msg = str(_error(data_copy))
    assert "sites.yaml: sites[5].id: duplicate id" in msg and "sites[0]" in msg


def test_province_without_tariff(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["provinces"] = [p for p in d["provinces"] if p["id"] != "Hunan"]

    _edit(data_copy, "provinces.yaml", change)
    msg = str(_error(data_copy))
    assert msg.startswith("sites.yaml: sites[")
    assert ".province: 'Hunan' has no tariff and grid factor" in msg


def test_site_material_no_machine_runs(data_copy: Path) -> None:
    doc = _load(data_copy / "sites.yaml")
    i = next(k for k, s in enumerate(doc["sites"]) if "metal_316l" not in s["materials"])

    def change(d: dict[str, Any]) -> None:
        d["sites"][i]["materials"].append("metal_316l")

    _edit(data_copy, "sites.yaml", change)
    msg = str(_error(data_copy))
    n = len(doc["sites"][i]["materials"])
    assert f"sites.yaml: sites[{i}].materials[{n}]: material 'metal_316l' is not run by any machine" in msg


def test_site_unknown_material_and_station_kind(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["sites"][0]["stations"].append({"id": "zz", "kind": "teleporter"})

    _edit(data_copy, "sites.yaml", change)
    msg = str(_error(data_copy))
    assert msg.startswith("sites.yaml: sites[0].stations[") and "unknown station kind 'teleporter'" in msg

    def change_material(d: dict[str, Any]) -> None:
        d["sites"][0]["stations"].pop()
        d["sites"][0]["materials"][0] = "unobtainium"

    _edit(data_copy, "sites.yaml", change_material)
    assert str(_error(data_copy)) == "sites.yaml: sites[0].materials[0]: unknown material 'unobtainium'"


def test_machine_model_material_of_other_process(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        mm = next(m for m in d["machine_models"] if m["process"] == "fdm")
        mm["materials"].append("sls_pa12")

    _edit(data_copy, "machine_models.yaml", change)
    with pytest.raises(InputError) as info:
        load_catalog_from(data_copy)
    assert "machine_models.yaml: machine_models[0].materials[" in str(info.value)
    assert "is for sls, the machine is fdm" in str(info.value)


def test_material_unknown_process(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["materials"][0]["process"] = "welding"

    _edit(data_copy, "materials.yaml", change)
    with pytest.raises(InputError, match=r"materials\.yaml: materials\[0\]\.process: Input should be"):
        load_catalog_from(data_copy)


def test_process_post_processing_must_be_a_finish(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["processes"][0]["post_processing"] = ["polishing_by_hand"]

    _edit(data_copy, "processes.yaml", change)
    key = r"processes\[0\]\.post_processing\[0\]"
    with pytest.raises(InputError, match=rf"processes\.yaml: {key}: unknown finish"):
        load_catalog_from(data_copy)


def test_yaml_syntax_error_names_line(data_copy: Path) -> None:
    path = data_copy / "finishes.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(20, "  - id: [unclosed")
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match=r"^finishes\.yaml: line \d+, column \d+: YAML syntax error"):
        load_catalog_from(data_copy)


def test_missing_file_and_missing_list(data_copy: Path) -> None:
    (data_copy / "provinces.yaml").unlink()
    with pytest.raises(InputError, match=r"provinces\.yaml: file not found"):
        load_network_from(data_copy)
    (data_copy / "processes.yaml").write_text("other: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"processes\.yaml: processes: missing or not a list"):
        load_catalog_from(data_copy)


def test_site_values_filled_from_province_and_holidays(data_copy: Path) -> None:
    net = load_network_from(data_copy)
    provinces = load_provinces(data_copy)
    for site in net.sites.values():
        assert site.electricity_cny_per_kwh == provinces[site.province].electricity_cny_per_kwh
        assert site.grid_co2_kg_per_kwh == provinces[site.province].grid_co2_kg_per_kwh
        assert len(site.calendar.holidays) >= 30
    # a site may override its tariff (e.g. a market contract): the loader keeps the given value
    def change(d: dict[str, Any]) -> None:
        d["sites"][0]["electricity_cny_per_kwh"] = 0.555

    _edit(data_copy, "sites.yaml", change)
    first = next(iter(load_network_from(data_copy).sites.values()))
    assert first.electricity_cny_per_kwh == 0.555


def test_station_kinds_cover_post_processing() -> None:
    kinds = load_station_kinds()
    done = {step for steps in kinds.values() for step in steps}
    for proc in load_catalog().processes.values():
        assert set(proc.post_processing) <= done, proc.id


def test_package_dir_is_not_modified(data_copy: Path) -> None:
    shutil.rmtree(data_copy)
    assert load_network() is load_network()


def test_site_without_station_for_mandatory_step(data_copy: Path) -> None:
    doc = _load(data_copy / "sites.yaml")
    i = next(k for k, s in enumerate(doc["sites"])
             if any(st["kind"] == "depowdering" for st in s["stations"]))

    def change(d: dict[str, Any]) -> None:
        d["sites"][i]["stations"] = [st for st in d["sites"][i]["stations"] if st["kind"] != "depowdering"]

    _edit(data_copy, "sites.yaml", change)
    msg = str(_error(data_copy))
    assert msg.startswith(f"sites.yaml: sites[{i}].stations: no station performs ['depowdering']")


def test_bad_holiday_date_names_provinces_file(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["holidays"]["days"][4] = "2026-02-30"

    _edit(data_copy, "provinces.yaml", change)
    msg = str(_error(data_copy))
    assert msg.startswith("provinces.yaml: holidays.days[4]:")


def test_province_bounds(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["provinces"][0]["electricity_cny_per_kwh"] = 0

    _edit(data_copy, "provinces.yaml", change)
    assert "provinces.yaml: provinces[0].electricity_cny_per_kwh: Input should be greater than 0" in str(
        _error(data_copy))
