"""The FastAPI application: API routers, web pages, static files, problem+json errors.

`create_app()` is what `fabgrid serve` runs; the database is migrated and the shipped network
loaded at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from fabgrid import __version__
from fabgrid.api import errors
from fabgrid.api.routes import auth, catalog, factory, health, jobs, operator, orders, parts, quotes, webhooks
from fabgrid.config import Settings, load_settings


def _install_platform(app: FastAPI, settings: Settings) -> None:
    """429 answers with Retry-After, and the Celery dispatcher of background jobs when a broker is set."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    from fabgrid.services.ratelimit import RateLimitError

    @app.exception_handler(RateLimitError)
    async def _rate_limited(request: Request, exc: RateLimitError) -> JSONResponse:
        resp = errors.problem(429, exc.code, exc.message, type_=f"urn:fabgrid:problem:{exc.code}",
                              instance=request.url.path, hint=exc.hint, retry_after_s=exc.retry_after_s)
        resp.headers["Retry-After"] = str(exc.retry_after_s)
        return resp

    if settings.broker_url:
        from fabgrid.workers import install_dispatcher

        install_dispatcher(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: from the environment)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from fabgrid.services.platform import prepare_database

        app.state.database = prepare_database(settings.database_url)
        fleet = None
        if settings.embedded_fleet and not settings.mqtt_url:
            from fabgrid.services.live_fleet import start_embedded_fleet

            fleet = start_embedded_fleet(settings.database_url)
        yield
        if fleet is not None:
            fleet[1].set()
            fleet[0].join(timeout=5)

    app = FastAPI(
        title="fabgrid",
        version=__version__,
        description="Manufacturing-as-a-Service: DFM, instant quotes, allocation across a factory network.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(auth.router)
    for module in (parts, jobs, quotes, orders, factory, operator, webhooks):
        app.include_router(module.router)
    _install_platform(app, settings)

    from fabgrid.web import pages

    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(resources.files("fabgrid.web") / "static")), name="static")
    return app
