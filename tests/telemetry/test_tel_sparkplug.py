"""Sparkplug B without a broker: topics, hand-built births/data/deaths, aliases, sequence gaps, the
mapping, and the simulated edge node read back as the same events the JSON fleet produces."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pysparkplug import DataType, DBirth, DData, DDeath, Metric, NBirth, NCmd, NData, NDeath

from fabgrid.errors import InputError
from fabgrid.telemetry.fleet import SimMachine, fleet_events, load_profiles
from fabgrid.telemetry.sparkplug import SparkplugHost, SpTopic, load_mapping, message_id, parse_topic, topic_for
from fabgrid.telemetry.sparkplug_edge import SparkplugEdge

T0 = 1_790_000_000_000  # epoch ms


def _m(name: str | None, dtype: DataType, value: Any, alias: int | None = None, ts: int = T0) -> Metric:
    return Metric(timestamp=ts, name=name, datatype=dtype, value=value, alias=alias)


def _births(host: SparkplugHost, *, bd_seq: int = 4, state: int = 2, good: int = 10) -> None:
    nb = NBirth(timestamp=T0, seq=0, metrics=(_m("bdSeq", DataType.UINT64, bd_seq),
                                               _m("Node Control/Rebirth", DataType.BOOLEAN, False, 1)))
    assert host.handle("spBv1.0/g1/NBIRTH/edge1", nb.encode()) == []
    db = DBirth(timestamp=T0, seq=1, metrics=(
        _m("Machine/State", DataType.INT32, state, 10), _m("Production/Good", DataType.UINT64, good, 11),
        _m("Production/Scrap", DataType.UINT64, 0, 12), _m("Power", DataType.DOUBLE, 120.0, 13),
        _m("Production/PlannedUnitTime", DataType.DOUBLE, None, 14), _m("Vibration", DataType.FLOAT, 0.5, 15)))
    events = host.handle("spBv1.0/g1/DBIRTH/edge1/m1", db.encode())
    assert events is not None
    kinds = sorted(e["type"] for e in events)
    assert kinds == ["power", "state"]  # counters only set the baseline, null values make nothing
    assert next(e for e in events if e["type"] == "state")["state"] == "idle"


def _ddata(seq: int, metrics: tuple[Metric, ...], ts: int = T0 + 1000) -> bytes:
    """DDATA whose metrics carry no time of their own (the payload's applies)."""
    return DData(timestamp=ts, seq=seq, metrics=tuple(replace(m, timestamp=None) for m in metrics)).encode()


def test_topics() -> None:
    assert parse_topic("spBv1.0/g/DDATA/n/d") == SpTopic("g", "DDATA", "n", "d")
    assert parse_topic("spBv1.0/g/NBIRTH/n") == SpTopic("g", "NBIRTH", "n", None)
    for bad in ("spBv1.0/g/DDATA/n", "spBv1.0/g/NDATA/n/d", "spBv1.0/g/XDATA/n", "fabgrid/a/b/state",
                "spBv1.0//NDATA/n", "spBv1.0/STATE/host"):
        assert parse_topic(bad) is None, bad
    assert topic_for("g", "DDATA", "n", "d") == "spBv1.0/g/DDATA/n/d"
    with pytest.raises(InputError):
        topic_for("g/x", "NDATA", "n")
    assert len(message_id("x" * 300)) == 191


def test_birth_aliases_and_data_by_alias() -> None:
    host = SparkplugHost()
    _births(host)
    raw = _ddata(2, (_m(None, DataType.INT32, 3, 10), _m(None, DataType.UINT64, 15, 11),
                     _m(None, DataType.UINT64, 1, 12), _m(None, DataType.DOUBLE, 300.5, 13),
                     _m(None, DataType.FLOAT, 0.7, 15)))
    events = host.handle("spBv1.0/g1/DDATA/edge1/m1", raw)
    assert events is not None
    by_type = {e["type"]: e for e in events}
    assert set(by_type) == {"state", "power", "count"}
    assert by_type["state"]["state"] == "producing" and by_type["power"]["power_w"] == 300.5
    count = by_type["count"]
    assert (count["good"], count["scrap"], count["rework"]) == (5, 1, 0)
    assert count["planned_unit_s"] == 600  # no metric value: the mapping's default
    assert all(e["site"] == "g1" and e["machine"] == "m1" and e["ts"] == "2026-09-21T14:13:21.000Z" for e in events)
    assert by_type["state"]["id"] == "spb:g1:edge1:m1:1790000001000:2:Machine/State"
    assert host.stats.unmapped_metrics == 2 and host.stats.unmapped_names == ["Vibration"]  # birth and data
    assert host.stats.seq_gaps == 0 and host.commands() == []
    # a redelivery of the same message gives the same ids (the sink drops them)
    again = SparkplugHost()
    _births(again)
    assert [e["id"] for e in again.handle("spBv1.0/g1/DDATA/edge1/m1", raw) or []] == [e["id"] for e in events]


def test_job_change_carries_the_counts_of_its_message() -> None:
    host = SparkplugHost()
    _births(host)
    job_birth = DBirth(timestamp=T0, seq=2, metrics=(
        _m("Production/Job", DataType.STRING, "", 20), _m("Production/Good", DataType.UINT64, 10, 21),
        _m("Production/Rework", DataType.UINT64, 0, 22), _m("Production/PlannedUnitTime", DataType.DOUBLE, 90.0, 23)))
    host.handle("spBv1.0/g1/DBIRTH/edge1/m2", job_birth.encode())
    start = host.handle("spBv1.0/g1/DDATA/edge1/m2", _ddata(3, (_m(None, DataType.STRING, "J1", 20),)))
    assert start is not None and [(e["type"], e["event"], e["job"]) for e in start] == [("job", "start", "J1")]
    end = host.handle("spBv1.0/g1/DDATA/edge1/m2", _ddata(4, (
        _m(None, DataType.STRING, "", 20), _m(None, DataType.UINT64, 14, 21), _m(None, DataType.UINT64, 6, 22))))
    assert end is not None and len(end) == 1
    assert end[0] | {"id": "", "ts": ""} == {"id": "", "ts": "", "site": "g1", "machine": "m2", "type": "job",
                                              "event": "end", "job": "J1", "good": 4, "scrap": 0, "rework": 4,
                                              "planned_unit_s": 90.0}  # rework capped at good


def test_deaths_put_machines_offline() -> None:
    host = SparkplugHost(clock=lambda: T0 / 1000 + 5)
    _births(host, bd_seq=4)
    dd = host.handle("spBv1.0/g1/DDEATH/edge1/m1", DDeath(timestamp=T0 + 2000, seq=2).encode())
    assert dd is not None and [(e["machine"], e["state"], e["ts"]) for e in dd] == [
        ("m1", "offline", "2026-09-21T14:13:22.000Z")]
    stale = NDeath(timestamp=None, bd_seq_metric=_m("bdSeq", DataType.UINT64, 3)).encode()
    assert host.handle("spBv1.0/g1/NDEATH/edge1", stale) == [] and host.stats.stale_deaths == 1
    death = NDeath(timestamp=None, bd_seq_metric=_m("bdSeq", DataType.UINT64, 4)).encode()
    events = host.handle("spBv1.0/g1/NDEATH/edge1", death)
    assert events is not None and [(e["machine"], e["state"]) for e in events] == [("m1", "offline")]
    assert events[0]["ts"] == "2026-09-21T14:13:25.000Z"  # received now, not before the last data
    assert events[0]["id"] == f"spb:g1:edge1:m1:{T0}:4:NDEATH"


def test_sequence_gap_and_unknown_alias_ask_for_a_rebirth() -> None:
    host = SparkplugHost()
    _births(host)
    events = host.handle("spBv1.0/g1/DDATA/edge1/m1", _ddata(5, (_m(None, DataType.DOUBLE, 150.0, 13),)))
    assert events is not None and events[0]["power_w"] == 150.0  # still read: the aliases are known
    assert host.stats.seq_gaps == 1
    cmds = host.commands()
    assert [t for t, _ in cmds] == ["spBv1.0/g1/NCMD/edge1"]
    cmd = NCmd.decode(cmds[0][1])
    assert [(m.name, m.value) for m in cmd.metrics] == [("Node Control/Rebirth", True)]
    # a node this host never saw being born: the alias means nothing, counted, not an error
    blind = SparkplugHost()
    assert blind.handle("spBv1.0/g1/DDATA/edge1/m1", _ddata(7, (_m(None, DataType.DOUBLE, 1.0, 13),))) == []
    assert blind.stats.unknown_aliases == 1 and blind.stats.rebirth_requests == 1 and len(blind.commands()) == 1
    # after a new NBIRTH the node is in sync again
    _births(blind)
    assert blind.handle("spBv1.0/g1/DDATA/edge1/m1", _ddata(2, (_m(None, DataType.DOUBLE, 1.0, 13),)))
    assert blind.stats.seq_gaps == 0


def test_malformed_and_ignored_messages() -> None:
    host = SparkplugHost()
    assert host.handle("spBv1.0/g1/DDATA/edge1/m1", b"\xff\xff\xff") is None
    assert host.handle("spBv1.0/g1/BOGUS/edge1", b"") is None
    assert host.handle("spBv1.0/STATE/scada", b'{"online": true}') == []
    assert host.handle("spBv1.0/g1/NCMD/edge1", NCmd(timestamp=T0, metrics=()).encode()) == []
    assert host.stats.malformed == 1 and host.stats.ignored == 2


def test_mapping_file_node_machines_and_scale(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("site: node\nmachine: node\nplanned_unit_s: 30\nrebirth: false\nmetrics:\n"
                    "  Status: {kind: state, values: {1: producing, 0: idle}}\n"
                    "  PowerKW: {kind: power_w, scale: 1000}\n"
                    "  Temp/*: {kind: temperature}\n"
                    "  Meter: {kind: energy_kwh_total, scale: 0.001}\n", encoding="utf-8")
    host = SparkplugHost(load_mapping(path))
    birth = NBirth(timestamp=T0, seq=0, metrics=(
        _m("bdSeq", DataType.UINT64, 0), _m("Status", DataType.INT32, 0, 1), _m("PowerKW", DataType.FLOAT, 1.5, 2),
        _m("Temp/spindle", DataType.DOUBLE, 31.0, 3), _m("Meter", DataType.UINT64, 1000, 4)))
    events = host.handle("spBv1.0/g9/NBIRTH/press-7", birth.encode())
    assert events is not None
    assert {(e["type"], e["site"], e["machine"]) for e in events} == {
        ("state", "press-7", "press-7"), ("power", "press-7", "press-7"), ("temperature", "press-7", "press-7")}
    assert next(e for e in events if e["type"] == "power")["power_w"] == 1500.0
    assert next(e for e in events if e["type"] == "temperature")["sensor"] == "spindle"
    data = NData(timestamp=T0 + 60_000, seq=9, metrics=(_m(None, DataType.UINT64, 3500, 4),)).encode()
    events = host.handle("spBv1.0/g9/NDATA/press-7", data)
    assert events is not None and events[0]["type"] == "energy" and events[0]["kwh"] == pytest.approx(2.5)
    assert host.stats.seq_gaps == 1 and host.commands() == []  # rebirth: false
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics: {X: {kind: velocity}}\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a valid Sparkplug mapping"):
        load_mapping(bad)
    with pytest.raises(InputError, match="cannot read"):
        load_mapping(tmp_path / "missing.yaml")


def _fleet() -> list[SimMachine]:
    from tel_helpers import model

    from fabgrid.domain.catalog import ProcessFamily

    return [SimMachine("s1", "s1-fdm-1", model()), SimMachine("s1", "s1-sls-1", model(ProcessFamily.SLS, 9000)),
            SimMachine("s1", "s1-cnc-1", model(ProcessFamily.CNC, 15000))]


def _key(ev: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, v) for k, v in ev.items() if k != "id"))


def test_simulated_edge_node_reads_back_as_the_json_events() -> None:
    fleet, n = _fleet(), 3000
    expected = []
    for ev in fleet_events(fleet, seed=5, start_s=1.79e9, sample_s=120):
        expected.append(ev)
        if len(expected) == n:
            break
    sent: list[tuple[str, bytes]] = []
    profiles = load_profiles()
    devices = {m.machine: tuple(profiles[m.model.process].temperatures) for m in fleet}
    edge = SparkplugEdge(lambda t, p: sent.append((t, p)), "s1", "s1-edge", devices)
    edge.start(1_790_000_000_000)
    for ev in expected:
        edge.publish(ev)
    edge.close()
    verbs = Counter(t.split("/")[2] for t, _ in sent)
    assert verbs["NBIRTH"] == 1 and verbs["DBIRTH"] == 3 and verbs["NDEATH"] == 1
    assert sent[0][0] == "spBv1.0/s1/NBIRTH/s1-edge" and edge.skipped == 0
    host = SparkplugHost(clock=lambda: 1.0)
    got: list[dict[str, Any]] = []
    for topic, payload in sent:
        events = host.handle(topic, payload)
        assert events is not None
        got += events
    deaths = [e for e in got if e["id"].endswith(":NDEATH")]
    assert sorted(e["machine"] for e in deaths) == sorted(devices) and {e["state"] for e in deaths} == {"offline"}
    assert Counter(_key(e) for e in got if e not in deaths) == Counter(_key(e) for e in expected)
    assert len({e["id"] for e in got}) == len(got)  # ids unique
    assert host.stats.seq_gaps == 0 and host.stats.unmapped_metrics == 0 and host.stats.unknown_aliases == 0


def test_cli_bad_mapping_and_format_are_readable_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fabgrid.cli import main

    def run(argv: list[str]) -> tuple[int, str]:
        try:
            main(argv)
        except SystemExit as exc:
            return int(exc.code or 0), capsys.readouterr().err
        return 0, capsys.readouterr().err

    bad = tmp_path / "m.yaml"
    bad.write_text("site: planet\nmetrics: {}\n", encoding="utf-8")
    code, err = run(["ingest", "--mqtt", "mqtt://127.0.0.1:1", "--out", str(tmp_path / "o.jsonl"),
                     "--sparkplug-mapping", str(bad), "--duration", "1"])
    assert code == 2 and "not a valid Sparkplug mapping" in err and "Traceback" not in err
    code, err = run(["fleet", "--site", "cs-jingkai-01", "--format", "opcua", "--mqtt", "mqtt://127.0.0.1:1"])
    assert code == 2 and "--format" in err
    code, err = run(["fleet", "--site", "cs-jingkai-01", "--format", "sparkplug", "--out", str(tmp_path / "f"),
                     "--count", "5"])
    assert code == 2 and "--format sparkplug publishes over MQTT" in err
