"""Helpers of the web-platform API tests: accounts of every role, generated part files, polling of jobs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import trimesh
from fastapi.testclient import TestClient

from fabgrid.config import Settings
from fabgrid.services import accounts

PASSWORD = "correct horse battery"


def box_stl(x: float = 20.0, y: float = 30.0, z: float = 10.0) -> bytes:
    """A closed box as binary STL (12 triangles)."""
    data: bytes = trimesh.creation.box((x, y, z)).export(file_type="stl")
    return data


@dataclass
class Platform:
    """A running app with helpers to make accounts and parts."""

    client: TestClient
    settings: Settings
    _n: list[int] = field(default_factory=lambda: [0])

    def _next(self) -> int:
        self._n[0] += 1
        return self._n[0]

    def login(self, email: str) -> dict[str, str]:
        r = self.client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def buyer(self, org: str | None = None) -> dict[str, str]:
        n = self._next()
        email = f"buyer{n}@org{n}.example.com"
        r = self.client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": f"B{n}",
                                                          "organisation": org or f"Buyer Org {n}"})
        assert r.status_code == 201, r.text
        return self.login(email)

    def account(self, role: str, site: str | None = None) -> dict[str, str]:
        n = self._next()
        email = f"{role}{n}@park.example.com"
        accounts.signup(self.settings.database_url, email=email, password=PASSWORD, name=f"{role} {n}",
                        organisation=f"{role} org {n} {site or ''}".strip(), role=role, site_id=site)
        return self.login(email)

    def upload(self, headers: dict[str, str], data: bytes | None = None, name: str = "box.stl") -> dict[str, Any]:
        r = self.client.post("/api/v1/parts", files={"file": (name, data or box_stl())}, headers=headers)
        assert r.status_code in (201, 202), r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_job(self, headers: dict[str, str], job_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            r = self.client.get(f"/api/v1/jobs/{job_id}", headers=headers)
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["status"] in ("succeeded", "failed"):
                return body
            assert time.monotonic() < deadline, f"job {job_id} still {body['status']}"
            time.sleep(0.05)


def make_settings(tmp: Path) -> Settings:
    """Settings on a fresh SQLite database and data directory under `tmp`."""
    return Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'fabgrid.db'}", broker_url=None, mqtt_url=None)


def allow_private_webhooks(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """FABGRID_WEBHOOK_ALLOW_PRIVATE=1 for one test: endpoints on 127.0.0.1 (the app's and the kit's settings)."""
    allowed = replace(platform.settings, webhook_allow_private=True)
    # starlette's State keeps its attributes in `_state` (monkeypatch.setattr would delete it on undo)
    monkeypatch.setitem(platform.client.app.state._state, "settings", allowed)
    monkeypatch.setattr(platform, "settings", allowed)
