"""`fabgrid network` and `fabgrid catalog`: JSON contract, tables, and the error path (exit 2, `error:`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fabgrid.cli import main
from fabgrid.data import load_catalog, load_network

SITE_KEYS = {"id", "name", "city", "province", "lat", "lon", "machines", "certifications", "labour_cny_per_h",
             "electricity_cny_per_kwh", "grid_co2_kg_per_kwh"}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_network_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "network", "--json")
    assert code == 0
    doc = json.loads(out)
    net = load_network()
    assert len(doc["sites"]) == len(net.sites)
    for s in doc["sites"]:
        assert set(s) >= SITE_KEYS
        site = net.sites[s["id"]]
        assert len(s["machines"]) == len(site.machines)
        for m in s["machines"]:
            assert set(m) >= {"id", "model", "process"}
            assert m["process"] == net.catalog.machine_models[m["model"]].process.value
        assert s["electricity_cny_per_kwh"] == site.electricity_cny_per_kwh


def test_network_province_filter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "network", "--province", "hunan", "--json")
    assert code == 0
    sites = json.loads(out)["sites"]
    assert sites and {s["province"] for s in sites} == {"Hunan"}
    code, out_zh, _ = _run(capsys, "network", "--province", "湖南", "--json")
    assert code == 0 and json.loads(out_zh) == json.loads(out)


def test_network_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from fabgrid.cli import _common

    monkeypatch.setattr(_common.console, "_width", 200)  # a wide terminal: no truncated cells
    code, out, _ = _run(capsys, "network", "--province", "Guangdong")
    assert code == 0
    ids = [s.id for s in load_network().sites.values() if s.province == "Guangdong"]
    assert f"{len(ids)} sites" in out and "1 provinces" in out
    assert all(i in out for i in ids)


def test_network_unknown_province(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "network", "--province", "Atlantis")
    assert code == 2 and out == ""
    assert err.startswith("error: --province 'Atlantis'")
    assert "Hunan" in err and "hint:" in err


@pytest.mark.parametrize("kind,key,count", [
    ("processes", "processes", lambda: len(load_catalog().processes)),
    ("materials", "materials", lambda: len(load_catalog().materials)),
    ("machines", "machines", lambda: len(load_catalog().machine_models)),
])
def test_catalog_json(capsys: pytest.CaptureFixture[str], kind: str, key: str, count: object) -> None:
    code, out, _ = _run(capsys, "catalog", kind, "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == [key]
    assert callable(count) and len(doc[key]) == count()


def test_catalog_machines_fields_and_filter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "catalog", "machines", "--process", "mjf", "--json")
    assert code == 0
    machines = json.loads(out)["machines"]
    assert machines and all(m["process"] == "mjf" for m in machines)
    for m in machines:
        assert {"id", "vendor", "model", "process", "build_volume_mm"} <= set(m)
        assert len(m["build_volume_mm"]) == 3


def test_catalog_tables(capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("processes", "materials", "machines"):
        code, out, _ = _run(capsys, "catalog", kind)
        assert code == 0 and out.strip()


def test_catalog_unknown_kind_and_process(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "catalog", "spaceships")
    assert code == 2 and out == "" and err.startswith("error: catalog kind 'spaceships'")
    code, _, err = _run(capsys, "catalog", "materials", "--process", "welding")
    assert code == 2 and err.startswith("error: --process 'welding'")


def test_installed_script_contract() -> None:
    exe = Path(sys.executable).with_name("fabgrid")
    if not exe.exists():
        pytest.skip("fabgrid script not installed next to the interpreter")
    ok = subprocess.run([str(exe), "network", "--json"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0
    assert set(json.loads(ok.stdout)["sites"][0]) >= SITE_KEYS
    bad = subprocess.run([str(exe), "catalog", "nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
