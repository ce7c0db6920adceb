"""`fabgrid kpi` contract: --schema, per-machine KPIs as JSON, readable errors (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabgrid.cli import main

EVENTS = [
    {"ts": "2026-11-20T00:00:00Z", "machine": "m1", "site": "s1", "type": "state", "state": "producing"},
    {"ts": "2026-11-20T06:00:00Z", "machine": "m1", "type": "state", "state": "idle"},
    {"ts": "2026-11-20T06:00:00Z", "machine": "m1", "type": "count", "good": 50, "scrap": 10,
     "planned_unit_s": 300},
    {"ts": "2026-11-20T00:00:00Z", "machine": "m2", "site": "s1", "type": "state", "state": "setup"},
    {"ts": "2026-11-20T02:00:00Z", "machine": "m2", "type": "state", "state": "producing"},
    {"ts": "2026-11-20T07:00:00Z", "machine": "m2", "type": "job", "event": "end", "job": "j1", "good": 20,
     "planned_unit_s": 720},
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_schema_documents_event_types(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["kpi", "--schema"], capsys)
    schema = json.loads(out)
    assert code == 0
    text = json.dumps(schema)
    for kind in ("StateEvent", "CountEvent", "EnergyEvent", "PowerEvent", "planned_unit_s", "producing",
                 "unplanned_downtime"):
        assert kind in text


def test_kpi_json_per_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n", encoding="utf-8")
    code, out, _ = _run(["kpi", str(path), "--from", "2026-11-20T00:00:00Z", "--to", "2026-11-20T08:00:00Z",
                         "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    m = {r["key"]: r for r in doc["machines"]}
    # m1: producing 6 h of 8 h PBT; 60 parts x 300 s = 5 h planned; 50 good of 60
    assert m["m1"]["availability"] == pytest.approx(6 / 8)
    assert m["m1"]["effectiveness"] == pytest.approx(5 / 6)
    assert m["m1"]["quality_ratio"] == pytest.approx(50 / 60)
    assert m["m1"]["oee"] == pytest.approx(6 / 8 * 5 / 6 * 50 / 60)
    # m2: setup 2 h then producing 6 h; job end counts 20 x 720 s = 4 h
    assert m["m2"]["availability"] == pytest.approx(6 / 8)
    assert m["m2"]["effectiveness"] == pytest.approx(4 / 6)
    assert m["m2"]["setup_rate"] == pytest.approx(2 / 8)
    assert doc["sites"][0]["key"] == "s1" and doc["network"][0]["oee"] is not None


def test_kpi_per_period_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS), encoding="utf-8")
    code, out, _ = _run(["kpi", str(path), "--period", "hour", "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and len([r for r in doc["machines"] if r["key"] == "m1"]) == 7 + 1
    code, out, _ = _run(["kpi", str(path)], capsys)
    assert code == 0 and "m1" in out and "network" in out


@pytest.mark.parametrize(("content", "needle"), [
    ('{"ts": "2026-11-20T00:00:00Z", "machine": "m", "type": "state", "state": "busy"}', ":1: unknown state"),
    ("not json", ":1: not valid JSON"),
])
def test_kpi_bad_file_is_a_readable_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                          needle: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    code, _, err = _run(["kpi", str(path)], capsys)
    assert code == 2 and needle in err and "hint:" in err and "Traceback" not in err
    code, _, err = _run(["kpi", str(tmp_path / "missing.jsonl")], capsys)
    assert code == 2 and "not found" in err


def test_kpi_per_shift_uses_the_site_calendar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fabgrid.data import load_network

    site = next(s for s in load_network().sites.values() if s.calendar.shifts)
    events = [{**e, "site": site.id} for e in EVENTS]
    path = tmp_path / "ev.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events), encoding="utf-8")
    code, out, _ = _run(["kpi", str(path), "--site", site.id, "--period", "shift", "--json",
                         "--from", "2026-11-19T20:00:00Z", "--to", "2026-11-20T20:00:00Z"], capsys)
    assert code == 0
    doc = json.loads(out)
    m1 = [r for r in doc["machines"] if r["key"] == "m1"]
    total = m1[-1]
    assert sum(r["elements"]["apt_s"] for r in m1[:-1]) == pytest.approx(total["elements"]["apt_s"])
    assert len(m1) >= 2  # split at shift boundaries of the site's calendar
    code, _, err = _run(["kpi", str(path), "--period", "shift"], capsys)
    assert code == 2 and "--site" in err


def test_fleet_and_ingest_without_a_broker_are_readable_errors(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = _run(["fleet", "--site", "cs-jingkai-01", "--mqtt", f"mqtt://127.0.0.1:{port}", "--count", "5"],
                        capsys)
    assert code == 2 and "could not connect to the MQTT broker" in err and "hint:" in err
    assert "Traceback" not in err
    code, _, err = _run(["ingest", "--mqtt", f"mqtt://127.0.0.1:{port}", "--out", "/dev/null", "--duration", "1"],
                        capsys)
    assert code == 2 and "could not connect to the MQTT broker" in err
