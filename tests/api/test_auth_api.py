"""Sign-up, OAuth2 password login, bearer tokens, API keys, logout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.config import load_settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'fabgrid.db'}"
    with TestClient(create_app(load_settings(url))) as c:
        yield c


def signup(client: TestClient, email: str, org: str, password: str = "correct horse battery") -> dict[str, object]:
    r = client.post("/api/v1/auth/signup", json={"email": email, "password": password, "name": "Ada",
                                                 "organisation": org})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def login(client: TestClient, email: str, password: str = "correct horse battery") -> str:
    r = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    token: str = r.json()["access_token"]
    return token


def test_signup_login_me_logout(client: TestClient) -> None:
    body = signup(client, "ada@robotics.example.com", "Xiangjiang Robotics")
    assert body["role"] == "buyer"
    token = login(client, "ADA@robotics.example.com")
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["organisation"]["name"] == "Xiangjiang Robotics"
    assert client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    again = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401 and again.headers["www-authenticate"] == "Bearer"


def test_bad_credentials_and_input(client: TestClient) -> None:
    signup(client, "bo@drones.example.com", "Furong Drones")
    r = client.post("/api/v1/auth/token", data={"username": "bo@drones.example.com", "password": "wrong one!!"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/v1/auth/signup", json={"email": "bo@drones.example.com", "password": "long enough pw",
                                                 "name": "Bo", "organisation": "Other Org"})
    assert r.status_code == 201  # the same answer as for a new e-mail (no account enumeration); nothing changed
    r = client.post("/api/v1/auth/token", data={"username": "bo@drones.example.com", "password": "long enough pw"})
    assert r.status_code == 401
    r = client.post("/api/v1/auth/signup", json={"email": "x@y.example.com", "password": "short",
                                                 "name": "X", "organisation": "Short Ltd"})
    assert r.status_code == 422 and "password" in r.json()["detail"]
    r = client.post("/api/v1/auth/signup", json={"email": "not-an-email", "password": "long enough pw",
                                                 "name": "X", "organisation": "Mail Ltd"})
    assert r.status_code == 422 and "email" in r.json()["detail"]
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer fgs_forged"}).status_code == 401


def test_api_key_authenticates_until_revoked(client: TestClient) -> None:
    signup(client, "cy@erp.example.com", "Lugu ERP")
    token = login(client, "cy@erp.example.com")
    r = client.post("/api/v1/auth/api-keys", json={"name": "ERP"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    key = r.json()["api_key"]
    assert key.startswith("fgk_")
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["email"] == "cy@erp.example.com"
    client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
