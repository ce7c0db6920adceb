"""The published OpenAPI says what the API answers when it refuses: every operation's errors are RFC 9457
problem+json (`api.errors.problem`), the request-validation 422 included (FastAPI's generated schema names its
own `HTTPValidationError` JSON instead), and any status an operation does not list is a problem too (`default`).

Depends on FastAPI only; `install(app)` replaces `app.openapi` with the generator below.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from fabgrid.api.errors import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `title` is fabgrid's stable error code where there is one.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "hint": {"type": "string", "description": "what to do about it"},
        "retry_after_s": {"type": "number", "description": "also sent as the Retry-After header (429, 503)"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "each invalid field (422)"},
    },
    "additionalProperties": True,
}
_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def problem_responses(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with the Problem schema, every 4xx/5xx answer as problem+json and a problem `default` answer."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for item in spec.get("paths", {}).values():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            responses = op.setdefault("responses", {})
            for code, answer in responses.items():
                if code[:1] in ("4", "5"):
                    answer["content"] = {PROBLEM_JSON: {"schema": _REF}}
            if "422" in responses:
                responses["422"]["description"] = "The request is invalid: a problem naming each field"
            responses.setdefault("default", {"description": "A refusal or an error, as a problem",
                                             "content": {PROBLEM_JSON: {"schema": _REF}}})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, no longer answered
        if f'"#/components/schemas/{name}"' not in json.dumps(spec):
            components.pop(name, None)
    return spec


def install(app: FastAPI) -> None:
    """Publish the problem answers in `app`'s OpenAPI (built once, on first request, like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                               summary=app.summary, description=app.description, routes=app.routes,
                               tags=app.openapi_tags, servers=app.servers)
            app.openapi_schema = problem_responses(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
