"""Issue 16, item 11: login brute force is throttled per account and per client address (429 with Retry-After,
audit entries), sign-up answers the same for a taken e-mail, and the password policy refuses short, blank,
repetitive and common passwords. Through the API on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.config import Settings
from fabgrid.services import accounts

PASSWORD = "correct horse battery"


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db_url, broker_url=None, mqtt_url=None, embedded_fleet=False)
    with TestClient(create_app(settings)) as c:
        yield c


def _signup(c: TestClient, email: str, org: str, password: str = PASSWORD) -> dict[str, object]:
    r = c.post("/api/v1/auth/signup", json={"email": email, "password": password, "name": "Ada", "organisation": org})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def _login(c: TestClient, email: str, password: str) -> int:
    """The status of one log-in (TestClient's peer address is always "testclient": one client address)."""
    r = c.post("/api/v1/auth/token", data={"username": email, "password": password})
    return r.status_code


def test_brute_force_on_one_account_is_locked_out_with_retry_after(client: TestClient, db_url: str) -> None:
    email = "target@robotics.example.com"
    _signup(client, email, "Target Robotics")
    codes = [_login(client, email, f"wrong guess {i:03d}") for i in range(100)]
    assert codes[:accounts.ACCOUNT_MAX_FAILURES] == [401] * accounts.ACCOUNT_MAX_FAILURES
    assert set(codes[accounts.ACCOUNT_MAX_FAILURES:]) == {429}  # 100 wrong passwords: locked after the fifth
    r = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert r.status_code == 429, "the right password does not open a locked account"
    assert r.headers["content-type"].startswith("application/problem+json") and r.json()["title"] == "auth.locked"
    assert 0 < int(r.headers["Retry-After"]) <= accounts.LOCKOUT.total_seconds() + 1
    log = accounts.auth_log(db_url, email)
    events = [e["event"] for e in log]
    assert events.count("login_failed") == accounts.ACCOUNT_MAX_FAILURES and "locked" in events
    assert events.count("refused_locked") == 100 - accounts.ACCOUNT_MAX_FAILURES + 1


def test_many_accounts_from_one_address_lock_the_address(client: TestClient, db_url: str) -> None:
    """Password spraying: one guess each on many (also unknown) accounts from one address."""
    _signup(client, "real@spray.example.com", "Spray Org")
    codes = [_login(client, f"user{i}@spray.example.com", "Summer2024!x") for i in range(30)]
    assert codes[:accounts.ADDRESS_MAX_FAILURES] == [401] * accounts.ADDRESS_MAX_FAILURES
    assert set(codes[accounts.ADDRESS_MAX_FAILURES:]) == {429}
    assert _login(client, "real@spray.example.com", PASSWORD) == 429  # the address is locked for everyone
    assert any(e["event"] == "locked" and "addr locked" in e["detail"] for e in accounts.auth_log(db_url))


def test_a_successful_login_resets_the_account_count(client: TestClient) -> None:
    email = "forgetful@robotics.example.com"
    _signup(client, email, "Forgetful Robotics")
    for _ in range(3):
        for i in range(accounts.ACCOUNT_MAX_FAILURES - 1):
            assert _login(client, email, f"typo {i}") == 401
        assert _login(client, email, PASSWORD) == 200  # 4 typos, then right: never locked


def test_signup_answers_the_same_for_a_taken_email(client: TestClient) -> None:
    first = _signup(client, "ada@known.example.com", "Known Ltd")
    again = client.post("/api/v1/auth/signup", json={"email": "ADA@known.example.com", "password": "another passphrase",
                                                      "name": "Ada", "organisation": "Known Ltd Two"})
    fresh = client.post("/api/v1/auth/signup", json={"email": "new@known.example.com", "password": "another passphrase",
                                                      "name": "Ada", "organisation": "Known Ltd Three"})
    assert again.status_code == fresh.status_code == 201
    assert set(again.json()) == set(fresh.json()) == set(first)
    assert again.json()["detail"] == fresh.json()["detail"]
    assert _login(client, "ada@known.example.com", PASSWORD) == 200  # the existing account is unchanged
    # an organisation that exists is refused before the e-mail is looked at: the same for a taken and a new e-mail
    taken = client.post("/api/v1/auth/signup", json={"email": "ada@known.example.com", "password": PASSWORD,
                                                      "name": "Ada", "organisation": "Known Ltd"})
    new = client.post("/api/v1/auth/signup", json={"email": "other@known.example.com", "password": PASSWORD,
                                                    "name": "Ada", "organisation": "Known Ltd"})
    assert taken.status_code == new.status_code == 409 and taken.json()["detail"] == new.json()["detail"]


@pytest.mark.parametrize(("password", "words"), [
    (" " * 10, "besides leading and trailing spaces"),
    ("   short   ", "besides leading and trailing spaces"),
    ("aaaaaaaaaaaa", "different characters"),
    ("abababababab", "different characters"),
    ("password123", "common"),
    ("qwertyuiop", "common"),
    ("Password2024!", "common"),  # a common word with digits and symbols added
    ("1234567890", "common"),
])
def test_password_policy(client: TestClient, password: str, words: str) -> None:
    r = client.post("/api/v1/auth/signup", json={"email": "weak@pw.example.com", "password": password, "name": "W",
                                                 "organisation": "Weak Pw Org"})
    assert r.status_code == 422 and r.json()["title"] == "auth.weak_password" and words in r.json()["detail"], r.text


def test_the_common_password_list_is_shipped_with_its_source() -> None:
    common = accounts.common_passwords()
    assert len(common) >= 29_000 and "password" in common and "qwertyuiop" in common
    assert accounts.password_problem(PASSWORD) is None and accounts.password_problem("tangerine kite 42") is None
    assert "more than 256" in str(accounts.password_problem("xy" * 200))  # the API's body model says so first
