"""Showroom photos (issue 18, item 4): a factory uploads photos to its booth through the API and its storefront
page; they are re-encoded as JPEG and stored encrypted, a non-image or an oversized file is a 4xx problem+json and
stores nothing, and the public booth page shows them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from test_factories_onboarding import joined, problem
from web_kit import Platform, make_settings

from fabgrid.app import create_app
from fabgrid.services import showroom_photos


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = make_settings(tmp_path_factory.mktemp("showroom-photos"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def png(w: int = 64, h: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_a_factory_adds_photos_to_its_booth(own: Platform) -> None:
    h, site = joined(own, "Yuhua Photo Works")
    r = own.client.post("/api/v1/factory/showroom/photos", files={"photo": ("floor.png", png(), "image/png")},
                        headers=h)
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    assert name == "001.jpg" and r.json()["url"] == f"/showroom/{site}/photos/{name}"
    # stored encrypted: no JPEG on disk
    stored = Path(own.settings.data_dir) / "showroom_photos" / site / (name + ".enc")
    assert stored.is_file() and not stored.read_bytes().startswith(b"\xff\xd8")
    assert showroom_photos.photo_bytes(own.settings, site, name).startswith(b"\xff\xd8")
    # bad input: a text file, an oversized one; nothing stored
    body = problem(own.client.post("/api/v1/factory/showroom/photos",
                                   files={"photo": ("notes.png", b"not an image at all", "image/png")}, headers=h),
                   415)
    assert body["title"] == "photo.not_image"
    problem(own.client.post("/api/v1/factory/showroom/photos",
                            files={"photo": ("big.png", b"\x89PNG" + b"0" * (showroom_photos.MAX_PHOTO_BYTES + 10),
                                             "image/png")}, headers=h), 413)
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    problem(own.client.post("/api/v1/factory/showroom/photos", files={"photo": ("a.gif", gif.getvalue(), "image/gif")},
                            headers=h), 415)
    assert [p["name"] for p in own.client.get("/api/v1/factory/showroom/photos", headers=h).json()["photos"]] == [name]
    # a buyer has no booth
    problem(own.client.post("/api/v1/factory/showroom/photos", files={"photo": ("a.png", png(), "image/png")},
                        headers=own.buyer()), 403)
    # the booth page shows it, once the operator verified the factory (a booth is public then)
    r = own.client.post(f"/api/v1/operator/factories/{site}/verify", json={}, headers=own.account("operator"))
    assert r.status_code == 200, r.text
    page = own.client.get(f"/showroom/{site}")
    assert page.status_code == 200 and f'src="/showroom/{site}/photos/{name}"' in page.text
    img = own.client.get(f"/showroom/{site}/photos/{name}")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(img.content)).size == (64, 48)
    assert own.client.get(f"/showroom/{site}/photos/999.jpg").status_code == 404
    # removing it
    assert own.client.delete(f"/api/v1/factory/showroom/photos/{name}", headers=h).status_code == 204
    assert own.client.get("/api/v1/factory/showroom/photos", headers=h).json()["photos"] == []
    problem(own.client.delete(f"/api/v1/factory/showroom/photos/{name}", headers=h), 404)
