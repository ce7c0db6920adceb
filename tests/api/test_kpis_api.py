"""GET /api/v1/operator/kpis (issue 22, item 3): the ISO 22400-2 KPIs of the network or a site over a window, with
their elements and a trend, are the numbers `fabgrid kpi` prints for the same events and window (the fleet's
events written by `fabgrid fleet`, stored through the telemetry sink); order figures; bad input is a 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_kit import Platform, make_settings

from fabgrid.app import create_app
from fabgrid.cli import app as cli
from fabgrid.services._util import now
from fabgrid.services.telemetry import SqlEventSink

SITE = "cs-jingkai-01"
KEYS = ("availability", "effectiveness", "quality_ratio", "oee", "first_pass_yield", "energy_kwh", "co2_kg",
        "throughput_rate_per_h")


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, Path]]:
    """A platform whose database holds the events of a site's simulated fleet, and the same events as a file."""
    tmp = tmp_path_factory.mktemp("kpis")
    settings = make_settings(tmp)
    events = tmp / "fleet.jsonl"
    start = (now() - timedelta(hours=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = CliRunner().invoke(cli, ["fleet", "--site", SITE, "--out", str(events), "--count", "15000", "--rate", "0",
                                   "--sample-s", "300", "--start", start, "--seed", "3"])
    assert run.exit_code == 0, run.output
    with TestClient(create_app(settings)) as client:
        lines = [json.loads(x) for x in events.read_text().splitlines()]
        assert SqlEventSink(settings.database_url)(lines) == len(lines)
        yield Platform(client, settings), events


def _cli(events: Path, doc: dict[str, Any], period: str, site: str | None = None) -> dict[str, Any]:
    args = ["kpi", str(events), "--from", doc["from"], "--to", doc["to"], "--period", period, "--json"]
    run = CliRunner().invoke(cli, args + (["--site", site] if site else []))
    assert run.exit_code == 0, run.output
    out: dict[str, Any] = json.loads(run.stdout)
    return out


def _same(api: dict[str, Any], cli_row: dict[str, Any]) -> None:
    for k in KEYS:
        if cli_row[k] is None:
            assert api[k] is None, k
        else:
            assert api[k] == pytest.approx(cli_row[k], rel=1e-9, abs=1e-12), k
    for k, v in cli_row["elements"].items():
        assert api["elements"][k] == pytest.approx(v, rel=1e-9, abs=1e-9), k
    assert api["period_start"][:19] == cli_row["period_start"][:19]


def test_network_kpis_are_the_clis_on_the_same_events(own: tuple[Platform, Path]) -> None:
    p, events = own
    oh = p.account("operator")
    r = p.client.get("/api/v1/operator/kpis", params={"scope": "network", "window": "day"}, headers=oh)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["machines"] == 7 and doc["period_s"] == 3600
    assert len(doc["trend"]) in (24, 25)  # periods on the clock's hours
    k = doc["kpis"]
    assert 0 < k["oee"] <= 1 and k["elements"]["pot_s"] > 0 and k["energy_kwh"] > 0 and k["co2_kg"] > 0
    assert k["oee"] == pytest.approx(k["availability"] * k["effectiveness"] * k["quality_ratio"])
    assert k["performance"] == k["effectiveness"]
    assert 0 < doc["utilisation"] <= 1 and doc["value_added_cny_per_machine_h"] is not None
    assert set(doc["orders"]["open_by_status"]) >= {"placed", "allocated", "in_production", "built"}
    assert "simulated" in doc["note"]

    ref = _cli(events, doc, "hour")
    whole = [row for row in ref["network"] if row["period_start"][:19] == doc["from"][:19]
             and row["period_end"][:19] == doc["to"][:19]]
    assert len(whole) == 1
    _same(k, whole[0])
    trend = [row for row in ref["network"] if row is not whole[0]]
    assert len(trend) == len(doc["trend"])
    for a, c in zip(doc["trend"], trend, strict=True):
        _same(a, c)


def test_site_kpis_over_a_week_are_the_clis(own: tuple[Platform, Path]) -> None:
    p, events = own
    oh = p.account("operator")
    r = p.client.get("/api/v1/operator/kpis", params={"scope": "site", "site": SITE, "window": "week"}, headers=oh)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["site"] == SITE and doc["period_s"] == 86400 and len(doc["trend"]) in (7, 8)
    ref = _cli(events, doc, "day", site=SITE)
    whole = next(row for row in ref["sites"] if row["key"] == SITE and row["period_start"][:19] == doc["from"][:19]
                 and row["period_end"][:19] == doc["to"][:19])
    _same(doc["kpis"], whole)
    other = p.client.get("/api/v1/operator/kpis", params={"scope": "site", "site": "zz-jishou-01", "window": "shift"},
                         headers=oh)
    assert other.status_code in (200, 404)


def test_bad_kpi_requests_are_4xx(own: tuple[Platform, Path]) -> None:
    p, _ = own
    oh, buyer = p.account("operator"), p.buyer()
    get = p.client.get
    assert get("/api/v1/operator/kpis", headers=buyer).status_code == 403
    assert get("/api/v1/operator/kpis", params={"window": "year"}, headers=oh).status_code == 422
    assert get("/api/v1/operator/kpis", params={"scope": "planet"}, headers=oh).status_code == 422
    r = get("/api/v1/operator/kpis", params={"scope": "site"}, headers=oh)
    assert r.status_code == 422 and r.json()["title"] == "kpi.site"
    r = get("/api/v1/operator/kpis", params={"scope": "site", "site": "atlantis"}, headers=oh)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
