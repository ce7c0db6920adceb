"""Issue 16, item 9: schemathesis over every operation of the published OpenAPI (10,813 cases over 34 operations
found 500s on a huge `offset`, malformed multipart and a webhook port 99999, and 51 answers outside the schema).
Valid and invalid requests per operation, as a buyer (/api/v1/...), the factory holding the buyer's order
(/api/v1/factory/...) and an operator (/api/v1/operator/...); every other case carries the real ids of a part,
its job and quote, the order, its line and thread, so the 2xx answers are checked too. Allowed: 0 server errors,
0 answers outside the schema (status, content type, body).

Bounded in the normal run (FABGRID_OPENAPI_EXAMPLES, default 2 per operation and mode: about 520 cases over
145 operations in 73 s on 2 shared cores, 166 s at a load average of 8; the slowest case POST /factory/builds/plan);
`make fuzz` runs 50.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi import checks as oas

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # web_kit: the API tests' helpers
from web_kit import PASSWORD, box_stl, make_settings

from fabgrid.app import create_app
from fabgrid.services import accounts, jobs

EXAMPLES = int(os.environ.get("FABGRID_OPENAPI_EXAMPLES", "2"))
CHECKS = [not_a_server_error, oas.status_code_conformance, oas.content_type_conformance,
          oas.response_schema_conformance, oas.response_headers_conformance]


@dataclass
class Api:
    schema: Any
    headers: dict[str, dict[str, str]]
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Api]:
    s = make_settings(tmp_path_factory.mktemp("openapi"))
    queued: list[str] = []
    jobs.set_dispatcher(lambda _s, job_id, _delay: queued.append(job_id))  # as with no worker running: the
    request.addfinalizer(lambda: jobs.set_dispatcher(None))  # fuzzed simulations and plans wait in their queue
    app = create_app(s)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    with asgi.get_client(app) as client:

        def login(role: str, site: str | None = None) -> dict[str, str]:
            email = f"{role}@openapi.example.com"
            accounts.signup(s.database_url, email=email, password=PASSWORD, name=role, role=role, site_id=site,
                            organisation=f"{role} openapi org")
            r = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        buyer = login("buyer")
        part = client.post("/api/v1/parts", files={"file": ("box.stl", box_stl())}, headers=buyer).json()
        quote = client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 2,
                                                    "destination": "Changsha"}, headers=buyer).json()
        site = quote["offers"][0]["site"]
        order = client.post("/api/v1/orders", json={"quote_id": quote["id"], "site": site, "tier": "standard"},
                            headers=buyer).json()
        thread = client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()["thread_id"]
        factory = login("factory", site)
        machines = client.get("/api/v1/factory/machines", headers=factory).json()["machines"]
        ids = {"part_id": part["id"], "quote_id": quote["id"], "order_id": order["id"], "site_id": site,
               "line_id": order["lines"][0]["id"], "thread_id": thread}
        if part.get("job"):
            ids["job_id"] = part["job"]["id"]
        if machines:
            ids["machine_id"] = machines[0]["id"]
        yield Api(schema, {"buyer": buyer, "factory": factory, "operator": login("operator")}, ids)


def _role(path: str) -> str:
    if path.startswith("/api/v1/factory/"):
        return "factory"
    return "operator" if path.startswith("/api/v1/operator/") else "buyer"


def _fuzz(api: Api, op: Any, failures: dict[str, set[str]], slowest: dict[str, float]) -> int:
    """Run one operation's valid and invalid cases; record each failed check. Returns the number of cases."""
    headers = api.headers[_role(op.path)]
    strategy = st.one_of(op.as_strategy(generation_mode=GenerationMode.POSITIVE),
                         op.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    n = [0]

    @settings(max_examples=2 * EXAMPLES, deadline=None, database=None, derandomize=EXAMPLES <= 2,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        n[0] += 1
        if n[0] % 2 and case.path_parameters:  # every other case names real resources
            case.path_parameters = {k: api.ids.get(k, v) for k, v in case.path_parameters.items()}
        t = time.perf_counter()
        response = case.call(headers=headers, timeout=30)
        slowest[op.label] = max(slowest.get(op.label, 0.0), time.perf_counter() - t)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, BaseExceptionGroup) as exc:
            for sub in getattr(exc, "exceptions", [exc]):
                failures[op.label].add(f"{response.status_code} {type(sub).__name__}: {str(sub)[:400]}")

    run()
    return n[0]


@pytest.mark.timeout(600 if EXAMPLES <= 2 else 7200)  # `make fuzz` (50 per operation) runs over 10 000 cases
def test_every_operation_answers_within_its_schema_and_never_5xx(api: Api) -> None:
    failures: dict[str, set[str]] = defaultdict(set)
    cases = 0
    peak: dict[str, float] = {}
    slowest: dict[str, float] = {}
    t0 = time.perf_counter()
    operations = [r.ok() for r in api.schema.get_all_operations()]
    assert len(operations) >= 100, "the whole API is published"
    for op in operations:
        tracemalloc.start()
        try:
            cases += _fuzz(api, op, failures, slowest)
        finally:
            peak[op.label] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    worst = max(peak, key=peak.__getitem__)
    slow = max(slowest, key=slowest.__getitem__)
    print(f"schemathesis: {cases} cases over {len(operations)} operations in {elapsed:.0f} s, "
          f"{sum(map(len, failures.values()))} failures; peak traced memory per operation "
          f"{max(peak.values()):.1f} MiB ({worst}); slowest case {slowest[slow]:.1f} s ({slow})")
    assert not failures, "\n".join(f"{op}:\n  " + "\n  ".join(sorted(f)) for op, f in failures.items())
