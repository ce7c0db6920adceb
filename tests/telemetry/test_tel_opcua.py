"""OPC UA source against an asyncua server started in the test: states, counter increments, power."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from tel_helpers import free_port

from fabgrid.services.telemetry import SqlEventSink
from fabgrid.telemetry.opcua import OpcUaMachine, OpcUaSource, load_mappings

asyncua = pytest.importorskip("asyncua")
NS_URI = "urn:fabgrid:machines"


async def _server(port: int, machines: list[str]) -> tuple[Any, dict[str, Any]]:
    server = asyncua.Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/fabgrid/")
    idx = await server.register_namespace(NS_URI)
    nodes: dict[str, Any] = {}
    for m in machines:
        obj = await server.nodes.objects.add_object(idx, m)
        for name, value in (("State", 2), ("GoodTotal", 100), ("ScrapTotal", 3), ("PlannedUnitTime", 300.0),
                            ("PowerKW", 0.4), ("ChamberTemperature", 25.0)):
            nodes[f"{m}.{name}"] = await obj.add_variable(f"ns={idx};s={m}.{name}", name, value)
    await server.start()
    return server, nodes


def test_opcua_changes_become_events(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'opcua.db'}")
    sink = SqlEventSink(engine)
    got: list[dict[str, Any]] = []

    def emit(batch: list[dict[str, Any]]) -> int:
        got.extend(batch)
        return sink(batch)

    async def scenario() -> tuple[int, int]:
        port = free_port()
        server, nodes = await _server(port, ["m1", "m2"])
        try:
            machines = [OpcUaMachine("s1", "m1", "any-model"), OpcUaMachine("s1", "m2", "any-model")]
            url = f"opc.tcp://127.0.0.1:{port}/fabgrid/"
            stop = asyncio.Event()
            source = OpcUaSource(url, machines, emit, period_ms=50)
            task = asyncio.create_task(source.run(stop=stop, flush_s=0.05))
            await asyncio.sleep(1.0)
            for name, value in (("m1.State", 4), ("m1.State", 3), ("m1.GoodTotal", 105), ("m1.ScrapTotal", 4),
                                ("m1.GoodTotal", 112), ("m1.PowerKW", 1.5), ("m2.State", 1)):
                await nodes[name].write_value(value)
                await asyncio.sleep(0.25)  # one notification per write
            await asyncio.sleep(0.5)
            stop.set()
            stats = await task
            # a restarted client reads the current values again: same source timestamps, same ids
            again = OpcUaSource(url, machines, sink, period_ms=50)
            await again.run(duration_s=1.0, flush_s=0.05)
            return stats.subscribed, again.stats.stored
        finally:
            await server.stop()

    subscribed, stored_again = asyncio.run(scenario())
    assert subscribed == 12
    m1_states = [e["state"] for e in got if e["machine"] == "m1" and e["type"] == "state"]
    assert m1_states == ["idle", "setup", "producing"]
    assert [e["state"] for e in got if e["machine"] == "m2" and e["type"] == "state"] == ["idle",
                                                                                          "unplanned_downtime"]
    counts = [(e["good"], e["scrap"]) for e in got if e["type"] == "count"]
    assert counts == [(5, 0), (0, 1), (7, 0)]  # increments; the first value is only the baseline
    assert all(e["planned_unit_s"] == 300.0 for e in got if e["type"] == "count")
    assert [e["power_w"] for e in got if e["machine"] == "m1" and e["type"] == "power"] == [400.0, 1500.0]
    assert stored_again == 0  # nothing counted twice across the client restart
    assert sink.count() == len({e["id"] for e in got})


def test_shipped_mapping_and_missing_model() -> None:
    mappings = load_mappings()
    assert "default" in mappings and any(n.kind == "state" for n in mappings["default"].nodes)
    source = OpcUaSource("opc.tcp://127.0.0.1:1/", [], lambda b: 0, mappings={})
    from fabgrid.errors import InputError

    with pytest.raises(InputError, match="no OPC UA mapping"):
        source._mapping("x")
