"""The composition root of the web platform: one FastAPI app with the API (api/) and the pages (web/) mounted
side by side, and the platform's start-up (database migrated and seeded, the embedded machine data).

`create_app(settings)` is what `fabgrid serve`, the tests and the benchmarks run. The only module that imports
both api and web; api and web never import each other. `SecurityHeaders` puts nosniff, frame denial, the referrer
policy and a Content-Security-Policy (a strict default where a page did not set its own) on every answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from fabgrid import __version__
from fabgrid.api import app as api
from fabgrid.config import Settings, load_settings
from fabgrid.web import pages

#: The Content-Security-Policy of answers that set none (JSON, problems, redirects, files): nothing may load or frame.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: /docs and /redoc: Swagger UI and ReDoc from the package (web/static/vendor, no CDN), started by
#: /static/swagger-init.js and /static/redoc-init.js (no inline script; their styles are inline, ReDoc
#: renders in a blob: worker).
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"), (b"content-security-policy", DEFAULT_CSP.encode()))


class SecurityHeaders:
    """ASGI middleware: adds each of `SECURITY_HEADERS` to every HTTP answer that does not carry it already
    (pages keep their own CSP, `web.session.CSP`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LoadShedder:
    """ASGI middleware: at most `limit` HTTP requests of this process in progress at once; one more is answered
    503 with Retry-After at once (problem+json under /api), so that overload is refused instead of queued into
    multi-second stalls. /health is never refused (the probes must see a busy server as alive)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit, self.in_flight = app, limit, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") == "/health":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await self._refuse(scope, send)
            return
        self.in_flight += 1  # one event loop per process: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Any, send: Any) -> None:
        import json

        detail = f"the server is at capacity ({self.limit} requests in progress in this process)"
        if str(scope.get("path", "")).startswith("/api/"):
            body = json.dumps({"type": "urn:fabgrid:problem:server.busy", "title": "server.busy", "status": 503,
                               "detail": detail, "hint": f"retry after {BUSY_RETRY_AFTER_S} s",
                               "retry_after_s": BUSY_RETRY_AFTER_S}).encode()
            kind = b"application/problem+json"
        else:
            body, kind = (detail + f"; retry after {BUSY_RETRY_AFTER_S} s").encode(), b"text/plain; charset=utf-8"
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", kind), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(BUSY_RETRY_AFTER_S).encode()), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": body})


#: Seconds a refused caller is told to wait.
BUSY_RETRY_AFTER_S = 1


def _docs_page() -> HTMLResponse:
    html = ('<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1.0">'
            '<link rel="stylesheet" href="/static/vendor/swagger-ui.css">'
            '<title>fabgrid API</title></head><body><div id="swagger-ui" data-openapi-url="/openapi.json"></div>'
            '<script src="/static/vendor/swagger-ui-bundle.js"></script>'
            '<script src="/static/swagger-init.js"></script></body></html>')
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})


def _redoc_page() -> HTMLResponse:
    html = ('<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1.0">'
            '<meta charset="utf-8"><title>fabgrid API (ReDoc)</title></head><body>'
            '<div id="redoc" data-openapi-url="/openapi.json"></div>'
            '<script src="/static/vendor/redoc.standalone.js"></script>'
            '<script src="/static/redoc-init.js"></script></body></html>')
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: from the environment): API routers first, then the pages and
    their static files."""
    settings = settings or load_settings()
    from fabgrid.services.platform import configure_database

    configure_database(settings)  # before any engine of the database is made

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from fabgrid.services.platform import prepare_database

        app.state.database = prepare_database(settings.database_url)
        from fabgrid.services.parts import resume_interrupted

        resume_interrupted(settings)  # inline analyses a stopped server left `running`
        from fabgrid.services.jobs import resubmit_stale

        resubmit_stale(settings, 60.0)  # jobs whose dispatch was lost, or whose worker died (lease expired)
        fleet = None
        if settings.embedded_fleet and not settings.mqtt_url:
            from fabgrid.services.live_fleet import start_embedded_fleet

            fleet = start_embedded_fleet(settings.database_url, settings.demo_source)
        yield
        if fleet is not None:
            fleet[1].set()
            fleet[0].join(timeout=5)

    app = FastAPI(
        title="fabgrid",
        version=__version__,
        description="Manufacturing-as-a-Service: DFM, instant quotes, allocation across a factory network.",
        lifespan=lifespan,
        docs_url=None,  # served below without FastAPI's inline script
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_api_route("/docs", _docs_page, include_in_schema=False, response_class=HTMLResponse)
    app.add_api_route("/redoc", _redoc_page, include_in_schema=False, response_class=HTMLResponse)
    app.add_middleware(LoadShedder, limit=settings.max_in_flight)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so refusals carry the headers too
    api.install(app, settings)
    pages.install(app)
    return app
