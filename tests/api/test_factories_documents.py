"""An application's documents are stored encrypted (the bytes on disk are not the file), readable by the applicant
and the operator (each read logged), refused for others, for wrong formats and once the application is decided."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from test_factories_onboarding import application, factory_signup, problem, with_check
from web_kit import Platform, make_settings

from fabgrid.app import create_app

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"business licence 91430100MA4L0XXXXD " * 50 + b"\n%%EOF\n"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = make_settings(tmp_path_factory.mktemp("documents"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def test_documents_are_encrypted_and_audited(own: Platform) -> None:
    h = factory_signup(own, "Tianxin Tooling")
    app = own.client.post("/api/v1/factories/applications", json=application(
        legal_name="Tianxin Tooling", credit_code=with_check("91430103MA4L0TXT1")), headers=h).json()
    url = f"/api/v1/factories/applications/{app['id']}/documents"
    r = own.client.post(url, files={"file": ("licence.pdf", PDF, "application/pdf")},
                        data={"kind": "business_licence"}, headers=h)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["media_type"] == "application/pdf" and doc["size_bytes"] == len(PDF)
    assert doc["kind"] == "business_licence"
    stored = list((own.settings.data_dir / "factory-documents").glob("*.fgf"))
    on_disk = stored[0].read_bytes()
    assert len(stored) == 1 and b"business licence" not in on_disk and b"%PDF" not in on_disk

    problem(own.client.post(url, files={"file": ("x.exe", b"MZ\x90\x00" * 10)}, headers=h), 415)
    problem(own.client.post(url, files={"file": ("a.pdf", PDF)}, data={"kind": "selfie"}, headers=h))
    problem(own.client.post(url, files={"file": ("a.pdf", b"")}, headers=h))
    assert [d["id"] for d in own.client.get(url, headers=h).json()] == [doc["id"]]

    other = factory_signup(own, "Someone Else")
    problem(own.client.get(url, headers=other), 404)
    problem(own.client.get(f"{url}/{doc['id']}", headers=other), 404)
    problem(own.client.post(url, files={"file": ("a.pdf", PDF)}, headers=other), 404)

    mine = own.client.get(f"{url}/{doc['id']}", headers=h)
    assert mine.status_code == 200 and mine.content == PDF
    op = own.account("operator")
    got = own.client.get(f"{url}/{doc['id']}", headers=op)
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    trail = own.client.get(f"/api/v1/operator/factories/applications/{app['id']}/events", headers=op).json()
    assert [e["kind"] for e in trail] == ["applied", "document", "document_read", "document_read"]

    own.client.post(f"/api/v1/operator/factories/applications/{app['id']}/reject", json={"reason": "test"},
                    headers=op)
    problem(own.client.post(url, files={"file": ("late.pdf", PDF)}, headers=h), 409)
