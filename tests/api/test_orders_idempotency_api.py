"""Issue 16, item 3: POST /api/v1/orders with an Idempotency-Key: the same key and body give the same order (200,
Idempotent-Replayed), the same key with another body is a 422 problem, a bad key a 422, keys are per organisation."""

from __future__ import annotations

from typing import Any

from web_kit import Platform


def _quote(platform: Platform, h: dict[str, str], part: dict[str, Any], qty: int) -> dict[str, Any]:
    r = platform.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": qty,
                                                     "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def test_idempotency_key_replays_and_refuses_reuse(platform: Platform) -> None:
    h = platform.buyer()
    part = platform.upload(h)
    q1, q2 = _quote(platform, h, part, 2), _quote(platform, h, part, 3)
    body = {"quote_id": q1["id"], "site": q1["offers"][0]["site"], "tier": "standard"}
    key = {"Idempotency-Key": "6f7d0a52-2f0e-4bd6-9d61-1e3f0f5a0b11"}
    first = platform.client.post("/api/v1/orders", json=body, headers=h | key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers, first.text
    again = platform.client.post("/api/v1/orders", json=body, headers=h | key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.headers["Location"] == first.headers["Location"]

    other = {"quote_id": q2["id"], "site": q2["offers"][0]["site"], "tier": "standard"}
    reused = platform.client.post("/api/v1/orders", json=other, headers=h | key)
    assert reused.status_code == 422 and reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json()["title"] == "order.idempotency_key_reused"
    bad = platform.client.post("/api/v1/orders", json=other, headers=h | {"Idempotency-Key": "two words"})
    assert bad.status_code == 422 and bad.json()["title"] == "order.idempotency_key"

    no_key = platform.client.post("/api/v1/orders", json=body, headers=h)  # without a key: ordered already
    assert no_key.status_code == 409 and no_key.json()["title"] == "order.duplicate"
    mine = [o for o in platform.client.get("/api/v1/orders", headers=h).json() if o["id"] == first.json()["id"]]
    assert len(mine) == 1

    stranger = platform.buyer()  # the same key in another organisation is another key: its own quote, its order
    part2 = platform.upload(stranger)
    q3 = _quote(platform, stranger, part2, 2)
    theirs = platform.client.post("/api/v1/orders", headers=stranger | key,
                                  json={"quote_id": q3["id"], "site": q3["offers"][0]["site"], "tier": "standard"})
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
