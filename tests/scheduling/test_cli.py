"""`fabgrid schedule`: the JSON contract, the table, and errors as `error:` / `hint:` with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabgrid.cli import main
from fabgrid.data import load_network
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.scheduling.check import check_schedule
from fabgrid.scheduling.readers import parse_jsplib


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        rc = 0
    except SystemExit as exc:
        rc = int(exc.code or 0)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_instance_json_contract(tmp_path: Path, ft06_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ft06.txt"
    f.write_text(ft06_text)
    rc, out, err = _run(["schedule", "--instance", str(f), "--format", "jsplib", "--time-limit", "20", "--json"],
                        capsys)
    assert rc == 0, err
    doc = json.loads(out)
    assert {"makespan", "lower_bound", "status", "operations"} <= set(doc)
    assert doc["makespan"] == 55 and doc["lower_bound"] == 55 and doc["status"] == "optimal"
    assert len(doc["operations"]) == 36
    assert set(doc["operations"][0]) == {"job", "index", "machine", "start", "end"}
    # anyone can check the printed schedule: re-check it from the JSON alone
    from fabgrid.domain.schedule import ScheduledOperation

    ops = [ScheduledOperation(**o) for o in doc["operations"]]
    report = check_schedule(parse_jsplib(ft06_text), ops)
    assert report.ok and report.makespan == 55


def test_instance_table_and_fjs(tmp_path: Path, fjs_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "small.fjs"
    f.write_text(fjs_text)
    png = tmp_path / "fjs.png"
    rc, out, err = _run(["schedule", "--instance", str(f), "--time-limit", "5", "--gantt", str(png)], capsys)
    assert rc == 0, err
    assert "CP-SAT" in out and "9" in out and "dispatch" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "needle"), [
    (["schedule"], "exactly one of --instance"),
    (["schedule", "--instance", "x.txt", "--site", "s"], "exactly one of --instance"),
    (["schedule", "--instance", "/nonexistent/x.txt"], "no such file"),
    (["schedule", "--instance", "BAD", "--format", "taillard"], "--format 'taillard'"),
    (["schedule", "--instance", "BAD", "--time-limit", "0"], "--time-limit 0"),
    (["schedule", "--site", "no-such-site"], "site 'no-such-site' is not in the network"),
    (["schedule", "--site", "x", "--horizon", "400"], "--horizon 400"),
    (["schedule", "--instance", "BAD"], "BAD.txt:2: expected 2"),
])
def test_bad_input_is_an_error_not_a_traceback(args: list[str], needle: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "BAD.txt"
    bad.write_text("1 2\n0 3\n")
    args = [str(bad) if a == "BAD" else a for a in args]
    rc, _, err = _run(args, capsys)
    assert rc == 2
    assert "error:" in err and "Traceback" not in err
    assert needle in err
    assert "hint:" in err


def _powder_site() -> str:
    net = load_network()
    for sid, site in net.sites.items():
        if any(net.machine_model(m).process is ProcessFamily.SLS for m in site.machines) and site.stations:
            return sid
    pytest.skip("no SLS site in the shipped network")


def test_site_generated_workload_json_and_gantt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = _powder_site()
    png = tmp_path / "g.png"
    rc, out, err = _run(["schedule", "--site", sid, "--horizon", "2", "--time-limit", "3", "--seed", "1",
                         "--json", "--gantt", str(png)], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["workload"]["source"] == "generated" and doc["workload"]["seed"] == 1
    assert doc["status"] in ("optimal", "feasible") and doc["check"]["ok"]
    assert doc["operations"] and {"job", "build", "step", "resource", "start", "end"} <= set(doc["operations"][0])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    builds = {o["build"] for o in doc["operations"]}
    assert len(builds) == doc["workload"]["builds"]


def test_site_work_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = _powder_site()
    net = load_network()
    site = net.sites[sid]
    m = next(m for m in site.machines if net.machine_model(m).process is ProcessFamily.SLS)
    material = next(x for x in net.machine_model(m).materials if x in site.materials)
    work = {"site": sid, "start": "2026-11-23T00:00:00+08:00", "jobs": [
        {"id": "A", "due": "2026-11-24T12:00:00+08:00", "weight": 2,
         "builds": [{"id": "b1", "process": "sls", "material": material, "print_h": 6, "parts": 12}]},
        {"id": "B", "due": "2026-11-25T12:00:00+08:00",
         "builds": [{"id": "b2", "process": "sls", "material": material, "print_h": 4,
                     "steps": [{"step": "cool_down", "duration_h": 3}, {"step": "depowdering", "duration_h": 1}]}]},
    ]}
    f = tmp_path / "work.json"
    f.write_text(json.dumps(work))
    rc, out, err = _run(["schedule", "--site", sid, "--work", str(f), "--time-limit", "3", "--json"], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["workload"]["source"] == "file" and doc["workload"]["builds"] == 2
    steps_b2 = [o["step"] for o in sorted(doc["operations"], key=lambda o: o["start_min"]) if o["build"] == "b2"]
    assert steps_b2[-2:] == ["cool_down", "depowdering"]
    rc, out, err = _run(["schedule", "--site", sid, "--work", str(f), "--time-limit", "3"], capsys)
    assert rc == 0 and str(f) in out.replace("\n", "")
    # bad files
    f.write_text("{not json")
    rc, _, err = _run(["schedule", "--site", sid, "--work", str(f)], capsys)
    assert rc == 2 and "not valid JSON" in err
    f.write_text(json.dumps({"jobs": [{"id": "A", "due": "2026-11-24T12:00:00", "builds": [
        {"id": "b1", "process": "sls", "material": material, "print_h": 6}]}]}))
    rc, _, err = _run(["schedule", "--site", sid, "--work", str(f)], capsys)
    assert rc == 2 and "jobs.0.due" in err and "timezone" in err
    f.write_text(json.dumps({"site": "elsewhere", **{k: v for k, v in work.items() if k != "site"}}))
    rc, _, err = _run(["schedule", "--site", sid, "--work", str(f)], capsys)
    assert rc == 2 and "not" in err and "elsewhere" in err
