"""The contract of dispatch in the CLI (`fabgrid machines connect|list`, `fabgrid builds plan|list`, `fabgrid
dispatch BUILD --wait --json`) and the API (/api/v1/factory/machines/{id}/connection, /api/v1/factory/builds,
/api/v1/factory/builds/{id}/dispatch), against the PrusaLink protocol simulator."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.cli import main
from fabgrid.config import Settings
from fabgrid.services import accounts, builds

SITE = "cs-tianxin-01"
MACHINE = "cs-tianxin-01-f03"
PASSWORD = "correct horse battery"
needs_slicer = pytest.mark.skipif(shutil.which("prusa-slicer") is None,
                                  reason="prusa-slicer is not installed (Debian package prusa-slicer)")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@needs_slicer
def test_cli_connect_list_plan_and_dispatch_wait_json(settings: Settings, prusalink: Any, cube: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database-url", settings.database_url]
    code, out, _ = _run(capsys, "machines", "connect", MACHINE, "--kind", "prusalink", "--url", prusalink.url,
                        "--api-key", "prusa-key", *db, "--json")
    assert code == 0 and json.loads(out)["state"] == "connected"
    assert "prusa-key" not in out
    code, out, _ = _run(capsys, "machines", "list", "--json", *db)
    [m] = json.loads(out)["machines"]
    assert code == 0 and m["machine_id"] == MACHINE and m["kind"] == "prusalink" and m["host"] == prusalink.url
    code, out, err = _run(capsys, "machines", "connect", MACHINE, "--kind", "bambuu", "--url", prusalink.url, *db)
    assert code == 2 and "unknown print host kind 'bambuu'" in err
    code, out, _ = _run(capsys, "builds", "plan", "--site", SITE, "--json", *db)
    assert code == 0 and json.loads(out)["builds"] == []  # no open order lines at the site
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla", copies=3)
    code, out, _ = _run(capsys, "dispatch", build.id, "--wait", "--json", "--poll", "0.3", *db)
    doc = json.loads(out)
    assert code == 0 and doc["state"] == "done" and doc["build"]["copies"] == 3
    assert doc["events"][0]["event"] == "start" and doc["events"][-1]["good"] == 3
    code, _, err = _run(capsys, "dispatch", build.id, *db)
    assert code == 2 and f"build {build.id} is done" in err
    code, _, err = _run(capsys, "dispatch", "bld_missing", *db)
    assert code == 2 and "does not exist" in err


@needs_slicer
def test_api_connection_builds_and_dispatch(settings: Settings, prusalink: Any, cube: Path) -> None:
    accounts.signup(settings.database_url, email="f@tianxin.example.com", password=PASSWORD, name="F",
                    organisation="Tianxin works", role="factory", site_id=SITE)
    accounts.signup(settings.database_url, email="g@other.example.com", password=PASSWORD, name="G",
                    organisation="Other works", role="factory", site_id="cs-jingkai-01")
    with TestClient(create_app(settings)) as client:
        def login(email: str) -> dict[str, str]:
            r = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        me, other = login("f@tianxin.example.com"), login("g@other.example.com")
        client.post("/api/v1/auth/signup", json={"email": "b@buyer.example.com", "password": PASSWORD, "name": "B",
                                                 "organisation": "Buyer"})
        refused = client.get("/api/v1/factory/builds", headers=login("b@buyer.example.com"))
        assert refused.status_code == 403 and refused.json()["title"] == "dispatch.forbidden"
        url = f"/api/v1/factory/machines/{MACHINE}/connection"
        r = client.put(url, json={"kind": "prusalink", "url": prusalink.url, "api_key": "prusa-key"}, headers=me)
        assert r.status_code == 200 and r.json()["state"] == "connected" and "api_key" not in r.json()
        assert client.put(url, json={"kind": "prusalink", "url": prusalink.url, "api_key": "k"},
                          headers=other).status_code == 404
        bad = client.put(url, json={"kind": "octoprint", "url": "ftp://x", "api_key": "k"}, headers=me)
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert client.get(url, headers=me).json()["host"] == prusalink.url
        build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla")
        listed = client.get("/api/v1/factory/builds", headers=me).json()["builds"]
        assert [b["id"] for b in listed] == [build.id] and "model_file" not in listed[0]
        assert client.get("/api/v1/factory/builds", headers=other).json()["builds"] == []
        r = client.post(f"/api/v1/factory/builds/{build.id}/dispatch", headers=me)
        assert r.status_code == 202, r.text
        assert r.json()["build"]["status"] == "printing"
        job = r.json()["job"]["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/v1/jobs/{job}", headers=me).json()["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert client.get(f"/api/v1/factory/builds/{build.id}", headers=me).json()["status"] == "done"
        events = client.get(f"/api/v1/factory/builds/{build.id}/events", headers=me).json()["events"]
        assert events[0]["event"] == "start" and events[-1]["event"] == "end"
        again = client.post(f"/api/v1/factory/builds/{build.id}/dispatch", headers=me)
        assert again.status_code == 409 and again.json()["title"] == "dispatch.final"
