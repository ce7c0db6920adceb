"""The read-only catalog API, health, the home page and problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.config import load_settings
from fabgrid.data import load_network


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'fabgrid.db'}"
    with TestClient(create_app(load_settings(url))) as c:
        yield c


def test_health(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["database"] == "sqlite"


def test_sites_match_the_shipped_network(client: TestClient) -> None:
    network = load_network()
    body = client.get("/api/v1/sites").json()
    assert body["count"] == len(network.sites)
    site = next(s for s in body["sites"] if s["id"] == next(iter(network.sites)))
    assert {"id", "name", "city", "province", "lat", "lon", "machines"} <= set(site)
    assert all({"id", "model", "process"} <= set(m) for m in site["machines"])
    hunan = client.get("/api/v1/sites", params={"province": "Hunan"}).json()["sites"]
    assert hunan and {s["province"] for s in hunan} == {"Hunan"}
    sls = client.get("/api/v1/sites", params={"process": "sls"}).json()["sites"]
    assert sls and all(any(m["process"] == "sls" for m in s["machines"]) for s in sls)


def test_catalog_resources(client: TestClient) -> None:
    network = load_network()
    models = client.get("/api/v1/machine-models").json()
    assert models["count"] == len(network.catalog.machine_models)
    assert all(len(m["build_volume_mm"]) == 3 for m in models["machine_models"])
    mats = client.get("/api/v1/materials", params={"process": "fdm"}).json()["materials"]
    assert mats and {m["process"] for m in mats} == {"fdm"}
    procs = client.get("/api/v1/processes").json()["processes"]
    assert {p["id"] for p in procs} == {"fdm", "sla", "sls", "mjf", "metal_pbf", "cnc"}


def test_errors_are_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/sites/no-such-site")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404 and "no-such-site" in r.json()["detail"]
    r = client.get("/api/v1/materials", params={"process": "welding"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "process" in r.json()["detail"]
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["title"] == "Not Found"


def test_home_page_shows_map_and_catalog(client: TestClient) -> None:
    network = load_network()
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    assert 'id="network-map"' in html
    assert html.count('class="site') == len(network.sites)
    assert 'class="land"' in html
    some = next(iter(network.catalog.machine_models.values()))
    assert some.model in html
    assert client.get("/openapi.json").json()["info"]["title"] == "fabgrid"
