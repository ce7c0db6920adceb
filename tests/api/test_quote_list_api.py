"""A part list quoted at once (issue 17, item 5): POST /api/v1/quotes/list quotes each part with its quantity (one
stored quote each, ordered together as one order with a line each); a part of another organisation is a problem
beside the others' quotes; a bad list is a 422 problem."""

from __future__ import annotations

from web_kit import Platform, box_stl


def test_part_list_quoted_and_ordered(platform: Platform) -> None:
    c = platform.client
    h = platform.buyer()
    a = platform.upload(h, box_stl(20, 30, 10), "a.stl")
    b = platform.upload(h, box_stl(40, 15, 12), "b.stl")
    foreign = platform.upload(platform.buyer(), box_stl(10, 10, 10), "theirs.stl")
    r = c.post("/api/v1/quotes/list", json={"material": "fdm_pla", "process": "fdm", "items": [
        {"part_id": a["id"], "quantity": 3}, {"part_id": b["id"], "quantity": 7},
        {"part_id": foreign["id"], "quantity": 1}]}, headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert [(q["part_id"], q["request"]["quantity"]) for q in body["quotes"]] == [(a["id"], 3), (b["id"], 7)]
    assert [(p["part_id"], p["status"], p["title"]) for p in body["problems"]] == [(foreign["id"], 404,
                                                                                     "part.not_found")]
    lines = [{"quote_id": q["id"], "site": q["offers"][0]["site"]} for q in body["quotes"]]
    r = c.post("/api/v1/orders", json={"lines": lines, "consent_design_sharing": True}, headers=h)
    assert r.status_code == 201, r.text
    assert sorted(ln["quantity"] for ln in r.json()["lines"]) == [3, 7]


def test_bad_lists_are_problems(platform: Platform) -> None:
    c = platform.client
    h = platform.buyer()
    a = platform.upload(h, box_stl(), "a.stl")
    for items, status in (([], 422), ([{"part_id": a["id"], "quantity": 0}], 422),
                          ([{"part_id": a["id"], "quantity": 1}] * 2, 422),
                          ([{"part_id": a["id"], "quantity": 1}] * 21, 422)):
        r = c.post("/api/v1/quotes/list", json={"material": "fdm_pla", "items": items}, headers=h)
        assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json"), r.text
    r = c.post("/api/v1/quotes/list", json={"material": "fdm_pla", "items": [{"part_id": a["id"], "quantity": 1}] * 2},
               headers=h)
    assert r.json()["title"] == "partlist.duplicate"
