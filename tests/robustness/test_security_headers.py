"""Issue 16: security headers on every page and API answer (nosniff, X-Frame-Options DENY and frame-ancestors
'none', Referrer-Policy, a Content-Security-Policy), and no inline script anywhere: not in the templates, not on
/docs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.config import Settings

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("headers")
    settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'fabgrid.db'}", broker_url=None, mqtt_url=None,
                        embedded_fleet=False)
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


def _get_paths(routes: list[Any]) -> list[str]:
    """The paths of the GET routes, through included routers (FastAPI wraps them as they are included)."""
    out: list[str] = []
    for route in routes:
        if hasattr(route, "original_router"):
            out += _get_paths(route.original_router.routes)
        elif isinstance(route, APIRoute) and "GET" in route.methods:
            out.append(route.path)
    return out


def _check(r: object, what: str) -> None:
    h = r.headers  # type: ignore[attr-defined]
    assert h.get("x-content-type-options") == "nosniff", what
    assert h.get("x-frame-options") == "DENY", what
    assert h.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"), what
    csp = h.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp or "default-src 'none'" in csp, (what, csp)
    if "script-src" in csp:
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0], (what, csp)


def test_every_get_route_answers_with_the_headers(client: TestClient) -> None:
    """Every GET route of the app without path parameters (pages, API, health, openapi, docs), as an anonymous
    caller, plus path-parameter routes with an unknown id (their 404s), a static file and a 405."""
    seen = 0
    for route_path in _get_paths(client.app.routes):  # type: ignore[attr-defined]
        path = re.sub(r"\{[^}]+\}", "x_00000000", route_path)
        r = client.get(path)
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        _check(r, path)
        seen += 1
    assert seen > 40
    for extra in ("/static/fabgrid.css", "/static/swagger-init.js", "/openapi.json", "/no/such/page",
                  "/api/v1/no-such-thing"):
        _check(client.get(extra), extra)
    _check(client.put("/api/v1/orders"), "PUT /api/v1/orders (405)")
    _check(client.post("/api/v1/auth/token", data={"username": "a@b.example.com", "password": "x"}), "401 problem")


def test_pages_keep_their_own_policy_and_frames_are_denied(client: TestClient) -> None:
    r = client.get("/login")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"
    api = client.get("/api/v1/catalog/processes")
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


def test_no_inline_script_in_templates_or_docs(client: TestClient) -> None:
    roots = [Path(str(resources.files("fabgrid.web") / "templates")), Path(str(resources.files("fabgrid.quality")))]
    offenders = []
    for root in roots:
        for f in root.rglob("*.html"):
            text = f.read_text(encoding="utf-8")
            offenders += [f"{f.name}: {m.group(0)}" for m in INLINE_SCRIPT.finditer(text)]
            offenders += [f"{f.name}: {m.group(0)[:60]}" for m in INLINE_HANDLER.finditer(text)]
    assert offenders == []
    docs = client.get("/docs")
    assert docs.status_code == 200 and 'src="/static/swagger-init.js"' in docs.text
    assert not INLINE_SCRIPT.search(docs.text)
    assert "'unsafe-inline'" not in docs.headers["content-security-policy"].split("script-src", 1)[1].split(";")[0]
