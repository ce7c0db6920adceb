"""`fabgrid users add` and `fabgrid demo seed`, run as an administrator runs them; the accounts log in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fabgrid.services import accounts

FABGRID = [sys.executable, "-m", "fabgrid.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FABGRID, *args], capture_output=True, text=True, timeout=180, env=dict(os.environ))


def test_demo_seed_and_users_add(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    r = run("demo", "seed", "--database-url", url, "--sites", "2", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    roles = [a["role"] for a in doc["accounts"]]
    assert roles == ["buyer", "factory", "factory", "operator"]
    factory = doc["accounts"][1]
    assert factory["site_id"] and accounts.login(url, factory["email"], factory["password"]).token
    p = accounts.authenticate(url, accounts.login(url, factory["email"], factory["password"]).token)
    assert p is not None and p.role == "factory" and p.site_id == factory["site_id"]
    again = json.loads(run("demo", "seed", "--database-url", url, "--sites", "2", "--json").stdout)
    assert [a["created"] for a in again["accounts"]] == [False] * 4  # idempotent: passwords reset, no duplicates
    assert accounts.login(url, again["accounts"][0]["email"], again["accounts"][0]["password"]).token

    r = run("users", "add", "--database-url", url, "--email", "qa@park.example.com", "--role", "factory",
            "--site", factory["site_id"], "--password", "a long password", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["site_id"] == factory["site_id"]
    r = run("users", "add", "--database-url", url, "--email", "x@park.example.com", "--role", "factory")
    assert r.returncode == 2 and "error:" in r.stderr and "--site" in r.stderr and "Traceback" not in r.stderr
