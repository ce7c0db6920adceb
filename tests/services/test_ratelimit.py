"""Token buckets in the database: burst, refill, per-principal, configuration errors; 429 with Retry-After."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.config import Settings, load_settings, parse_rate_limits
from fabgrid.errors import InputError
from fabgrid.services import accounts, ratelimit
from fabgrid.store.tables import RateBucketRow
from fabgrid.store.uow import UnitOfWork


def test_bucket_burst_then_refill(settings: Settings, buyer: accounts.Principal,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABGRID_RATE_LIMITS", "upload=3/3600,quote=5/10")
    settings = replace(settings, rate_limits=load_settings().rate_limits)  # read once, like a process start
    left = [ratelimit.take(settings, buyer, "upload") for _ in range(3)]
    assert left == pytest.approx([2, 1, 0], abs=0.01)
    with pytest.raises(ratelimit.RateLimitError) as err:
        ratelimit.take(settings, buyer, "upload")
    assert err.value.status == 429 and 1100 <= err.value.retry_after_s <= 1200
    other = accounts.signup(settings.database_url, email="bo@drones.example.com", password="correct horse battery",
                            name="Bo", organisation="Furong Drones")
    assert ratelimit.take(settings, other, "upload") == pytest.approx(2, abs=0.01)  # buckets are per principal
    assert ratelimit.take(settings, buyer, "quote") == pytest.approx(4, abs=0.01)  # and per action
    with UnitOfWork(settings.database_url) as uow:  # 40 min later the upload bucket has refilled 2 tokens
        row = uow.session.get(RateBucketRow, f"upload:user:{buyer.user_id}")
        assert row is not None
        row.updated_at = row.updated_at - timedelta(seconds=2400)
        uow.commit()
    assert ratelimit.take(settings, buyer, "upload") == pytest.approx(1, abs=0.05)


def test_bad_configuration(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABGRID_RATE_LIMITS", "upload=lots")
    with pytest.raises(InputError, match="ACTION=N/SECONDS") as err:
        load_settings()
    assert "FABGRID_RATE_LIMITS" in err.value.message
    monkeypatch.setenv("FABGRID_RATE_LIMITS", "upload=0/60")
    with pytest.raises(InputError):
        load_settings()
    monkeypatch.delenv("FABGRID_RATE_LIMITS")
    assert load_settings().rate_limits is None
    assert ratelimit.limits(settings)["upload"] == ratelimit.Limit(20, 60)
    assert ratelimit.limits(replace(settings, rate_limits=parse_rate_limits("upload=3/600")))["upload"] == \
        ratelimit.Limit(3, 600)


def test_api_answers_429_with_retry_after(settings: Settings) -> None:
    settings = replace(settings, rate_limits=parse_rate_limits("upload=1/3600,quote=1/3600"))
    with TestClient(create_app(settings)) as c:
        c.post("/api/v1/auth/signup", json={"email": "cy@erp.example.com", "password": "correct horse battery",
                                            "name": "Cy", "organisation": "Lugu ERP"})
        tok = c.post("/api/v1/auth/token", data={"username": "cy@erp.example.com",
                                                 "password": "correct horse battery"}).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}"}
        r = c.post("/api/v1/parts", files={"file": ("a.stl", b"solid a\nendsolid a\n")}, headers=h)
        assert r.status_code == 422  # an empty solid, refused by its analysis: the upload still took a token
        r = c.post("/api/v1/parts", files={"file": ("a.stl", b"solid a\nendsolid a\n")}, headers=h)
        assert r.status_code == 429 and r.headers["content-type"].startswith("application/problem+json")
        retry = int(r.headers["retry-after"])
        assert 3000 < retry <= 3600 and r.json()["retry_after_s"] == retry
        body = {"part_id": "prt_0000000000000000", "material": "fdm_pla", "quantity": 1}
        assert c.post("/api/v1/quotes", json=body, headers=h).status_code == 404
        assert c.post("/api/v1/quotes", json=body, headers=h).status_code == 429


def test_concurrent_requests_within_the_limit_are_never_refused(settings: Settings, buyer: accounts.Principal) -> None:
    """Ten clients of one user racing for a large bucket: contention is not a rate limit."""
    from concurrent.futures import ThreadPoolExecutor

    settings = replace(settings, rate_limits=parse_rate_limits("quote=100000/60"))
    who = buyer

    def burst(_: int) -> int:
        for _ in range(15):
            ratelimit.take(settings, who, "quote")
        return 15

    with ThreadPoolExecutor(10) as pool:
        assert sum(pool.map(burst, range(10))) == 150
