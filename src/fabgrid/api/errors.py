"""RFC 9457 problem+json answers for every error the API gives.

Depends on FastAPI/Starlette and fabgrid.errors only.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fabgrid.errors import InputError

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, *, type_: str = "about:blank",
            instance: str | None = None, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on `app`."""

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        retry_after = getattr(exc, "retry_after_s", None)  # a refusal that says when to come back (429, 503)
        resp = problem(exc.status, exc.code, exc.message, type_=f"urn:fabgrid:problem:{exc.code}",
                       instance=request.url.path, hint=exc.hint, retry_after_s=retry_after)
        if retry_after is not None:
            resp.headers["Retry-After"] = str(int(retry_after))
        return resp

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        resp = problem(exc.status_code, _title(exc.status_code), str(exc.detail), instance=request.url.path)
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, "Unprocessable Content", f"invalid request: {where}",
                       type_="urn:fabgrid:problem:request.invalid", instance=request.url.path, errors=errors)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
