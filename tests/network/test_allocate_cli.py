"""CLI contract of `fabgrid allocate`, `fabgrid disrupt`, `fabgrid scenario generate`, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fabgrid.cli import main
from fabgrid.domain.allocation import Plan, Scenario
from fabgrid.domain.catalog import Network
from fabgrid.network.check import check_plan


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


GAP = {"sites": [{"id": "m0", "capacity_h_per_day": {"capacity": 10}},
                 {"id": "m1", "capacity_h_per_day": {"capacity": 10}}],
       "lines": [{"id": "j0", "quantity": 1, "candidates": [["m0", 5, 6], ["m1", 7, 6]]},
                 {"id": "j1", "quantity": 1, "candidates": [["m0", 4, 6], ["m1", 9, 6]]},
                 {"id": "j2", "quantity": 1, "candidates": [["m0", 1, 3], ["m1", 1, 3]]}]}


def _write(tmp_path: Path, name: str, doc: Any) -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


def test_allocate_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path, "gap.json", GAP)
    code, out, _ = run(capsys, "allocate", str(f), "--time-limit", "5", "--json")
    assert code == 0
    doc = json.loads(out)
    assert {"status", "objective", "bound", "gap", "assignments", "unassigned", "costs"} <= doc.keys()
    assert doc["status"] == "optimal" and doc["objective"] == pytest.approx(12.0) and doc["gap"] < 1e-6
    assert all(set(a) >= {"line", "site", "quantity"} for a in doc["assignments"])
    assert doc["unassigned"] == []
    assert check_plan(Scenario.model_validate(GAP), Plan.model_validate(doc)).ok
    code, out, _ = run(capsys, "allocate", str(f))          # readable table
    assert code == 0 and "optimal" in out and "j0" in out


def test_schema_documents_both_candidate_forms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "allocate", "--schema")
    assert code == 0
    schema = json.loads(out)
    assert {"Candidate", "Line", "ScenarioSite"} <= set(schema["$defs"])
    assert "capacity_use" in schema["$defs"]["Candidate"]["description"]
    assert "lines" in schema["required"] and "sites" in schema["required"]


@pytest.mark.parametrize(("doc", "needle"), [
    ('{"sites": [', "not valid JSON"),
    ({"sites": [{"id": "A"}], "lines": [{"id": "x7", "quantity": 2,
                                          "candidates": [{"site": "A", "unit_price_cny": -1}]}]},
     "lines[0] (id x7).candidates[0].unit_price_cny"),
    ({"sites": [{"id": "A"}], "lines": [{"id": "x7", "quantity": 0, "candidates": [["A", 1, 1]]}]},
     "lines[0] (id x7).quantity"),
    ({"sites": [{"id": "A"}], "lines": [{"id": "x7", "quantity": 1, "candidates": [["B", 1, 1]]}]},
     "unknown site 'B'"),
    ({"sites": [{"id": "A"}], "lines": [{"id": "x7", "quantity": 1, "candidates": [["A", 1]]}]},
     "[site, cost, capacity_use]"),
    ({"sites": [{"id": "A"}], "lines": [], "colour": "red"}, "colour"),
])
def test_bad_input_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: Any,
                                             needle: str) -> None:
    f = _write(tmp_path, "bad.json", doc)
    code, out, err = run(capsys, "allocate", str(f), "--json")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and needle in err and "Traceback" not in err


def test_bad_flags_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path, "gap.json", GAP)
    for args in (["allocate", str(f), "--time-limit", "0"], ["allocate", str(f), "--solver", "magic"],
                 ["allocate", str(tmp_path / "missing.json")], ["allocate"]):
        code, _, err = run(capsys, *args)
        assert code == 2 and err.startswith("error: "), args


def test_infeasible_is_reported_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"sites": [{"id": "A", "capacity_h_per_day": {"capacity": 2}}],
           "lines": [{"id": "big", "quantity": 5, "candidates": [["A", 1, 1]], "split": False}]}
    code, out, _ = run(capsys, "allocate", str(_write(tmp_path, "inf.json", doc)), "--json")
    assert code == 0
    res = json.loads(out)
    assert res["status"] == "infeasible" and res["objective"] is None and res["assignments"] == []
    assert res["unassigned"][0]["line"] == "big" and "capacity" in res["unassigned"][0]["reason"]


def test_generate_allocate_disrupt_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, network: Network) -> None:
    monkeypatch.setattr("fabgrid.data.load_network", lambda: network)
    sc_path, plan_path = tmp_path / "sc.json", tmp_path / "plan.json"
    code, _, _ = run(capsys, "scenario", "generate", "--sites", "8", "--lines", "40", "--seed", "3",
                     "--out", str(sc_path))
    assert code == 0
    sc = Scenario.model_validate_json(sc_path.read_text())
    assert len(sc.lines) == 40 and len(sc.sites) == 8
    code, out, _ = run(capsys, "allocate", str(sc_path), "--time-limit", "5", "--json", "--out", str(plan_path))
    assert code == 0 and json.loads(out)["status"] in ("optimal", "feasible")
    plan = Plan.model_validate_json(plan_path.read_text())
    site = plan.assignments[0].site
    code, out, _ = run(capsys, "disrupt", str(sc_path), str(plan_path), "--site", site, "--days", "3", "--json")
    assert code == 0
    rep = json.loads(out)
    assert {"disruption", "affected_lines", "moved", "churn_units", "late", "plan"} <= rep.keys()
    assert rep["disruption"]["kind"] == "site" and rep["disruption"]["days"] == 3
    assert plan.assignments[0].line in rep["affected_lines"]
    code, _, err = run(capsys, "disrupt", str(sc_path), str(plan_path), "--site", "s0", "--province", "Hunan")
    assert code == 2 and "one disruption" in err
    code, _, err = run(capsys, "disrupt", str(sc_path), str(plan_path), "--route", "Changsha")
    assert code == 2 and "FROM:TO" in err
    code, _, err = run(capsys, "disrupt", str(sc_path), str(sc_path), "--site", site)
    assert code == 2 and "plan" in err
